"""Validation against published figures: case files, the runner, and its reports."""

from archsim.validation.cases import Case, case_dir, load_case_file, load_cases, select_cases
from archsim.validation.runner import (ERROR, FAIL, NOT_MODELLED, PASS, Backend, Outcome, judge, missing_parts,
                                       run_cases, run_one)

__all__ = ["Case", "case_dir", "load_case_file", "load_cases", "select_cases", "ERROR", "FAIL", "NOT_MODELLED",
           "PASS", "Backend", "Outcome", "judge", "missing_parts", "run_cases", "run_one"]
