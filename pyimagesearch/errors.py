"""The one kind of error a user can fix: the scripts print its message on
one line and exit with status 1, without a traceback."""


class UserError(Exception):
    """A problem with a file, a folder or an option that the user can fix;
    the message names the thing and says what to do."""
