"""Exact objects that theorems say exist: pure numpy/scipy/sympy/cvxpy, no training loop."""
