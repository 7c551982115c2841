"""The datasets lenet-edge knows by name and their class names: pure data, no imports."""

DATASETS = ("mnist", "fashion-mnist", "digits")
_DIGIT_NAMES = tuple(str(i) for i in range(10))
CLASS_NAMES = {
    "mnist": _DIGIT_NAMES,
    "fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    "digits": _DIGIT_NAMES,
}
