"""Unpaired image-to-image translation (CycleGAN): two generators, two PatchGAN discriminators."""
