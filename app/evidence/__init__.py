"""Evidence that leaves the agency: signed case packages and the agency's signing key.

Qt-free and free of the workstation's services, so the sync server (which holds the evidence
vault) and the console build and check packages with the same code.
"""
