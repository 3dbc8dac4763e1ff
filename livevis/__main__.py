from livevis.cli import main

raise SystemExit(main())
