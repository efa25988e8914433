"""Monitoring schemes (监测方案) and their query language."""
