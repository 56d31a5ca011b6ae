"""TEST DOUBLE: torch_load/torch_save, here plain pickle (the real ones wrap torch.load/torch.save)."""

import pickle


def torch_load(f, *args, **kwargs):
    with open(f, "rb") as fh:
        return pickle.load(fh)


def torch_save(obj, f, *args, **kwargs):
    with open(f, "wb") as fh:
        pickle.dump(obj, fh)
