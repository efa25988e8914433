"""Yuqing 舆情工作台: a public-opinion monitoring and response desk for institutions."""

__version__ = "0.1.0"
