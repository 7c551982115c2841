"""Data, TF-free: datasets by name, IDX and image files, digit framing, and the one preprocess.

`datasets` resolves and checks MNIST-style datasets; `classes` names their classes;
`preprocess` turns uint8 images into model input; `image_files`, `framing` and `ink` turn
photos and scans into 28x28 frames like MNIST's.
"""
