"""The one-command run: a TF-free parent (`parent`) and its two worker processes (`worker`)."""
