"""Shared plumbing with no physics in it: argument checks with units in their messages
(:mod:`.validation`) and atomic, claim-once output folders and files (:mod:`.io`).

Imports nothing from the rest of ``efield``; every other subpackage may import it.
"""
