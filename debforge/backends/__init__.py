"""Backends turn a plan into files: ninja (build.ninja) and debian (the debian/ tree). They never read BUILD files."""
