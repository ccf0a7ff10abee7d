"""archsim: a Numba-accelerated, cycle-level simulator of LLM-inference hardware."""

__version__ = "0.1.0"
