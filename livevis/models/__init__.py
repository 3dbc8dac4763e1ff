"""Model definitions: generators (StyleGAN2/3), sound encoder, recurrent blocks, discriminators, bundles."""
