"""The planner: recipe + the scanned build graph -> per architecture, the libraries of each binary package with
their compiles, links, generate steps (rules/, one module per rule-kind family), host tools, externals and ISA
levels. Backends read only this model."""

from .planner import Compile, FlavorBuild, HostTool, Plan, SharedLibrary, header_files, make_plan

__all__ = ["Compile", "FlavorBuild", "header_files", "HostTool", "make_plan", "Plan", "SharedLibrary"]
