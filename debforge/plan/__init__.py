"""The planner: recipe + the scanned build graph -> per architecture, the libraries of each binary package with
their compiles, links, generate steps (rules/, one module per rule-kind family), host tools, externals and ISA
levels. Backends read only this model (model.py)."""

from .headers import header_files
from .model import (THREADS, Compile, FlavorBuild, HostTool, InterfaceLibrary, Plan, SharedLibrary, TestLibrary,
                    TestProgram, test_name)
from .planner import make_plan
from .tests import runfiles_path

__all__ = ["Compile", "FlavorBuild", "header_files", "HostTool", "InterfaceLibrary", "make_plan", "Plan",
           "runfiles_path", "SharedLibrary", "test_name", "TestLibrary", "TestProgram", "THREADS"]
