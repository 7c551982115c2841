"""Files in and out: the one bounded reader, atomic writers, owned output folders, .npz."""
