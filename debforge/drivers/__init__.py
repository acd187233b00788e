"""Drivers of Debian's tools: dpkg-buildpackage and lintian (dpkg), sbuild, and the checks on their results."""
