"""`livevis eval`: does a bundle follow what the sound is (semantic accuracy, CLIP similarity) and
when it happens (sync), compared with the same generator driven by a random walk?

    metrics     the measures as plain functions of arrays
    classifier  the frame classifier, trained on the dataset's real frames
    generate    live-style trajectories from a clip's audio, and the random-walk baseline
    report      the whole measurement and its table
"""
