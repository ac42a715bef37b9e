"""The device check's steps, run by ``bench/gpu_check.py``."""
