"""History data, formats, the recorder's core and the checkers (the "judge")."""
