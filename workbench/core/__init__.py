"""Project store, image and mask I/O. Pure Python + numpy + Pillow: never imports Qt or torch."""
