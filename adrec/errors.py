"""Errors that callers (the HTTP API, the CLI) turn into clear messages."""


class UnknownUserError(LookupError):
    """The user has no stored profile or history: no normal to compare with."""

    def __init__(self, user_id: int):
        super().__init__(f"unknown user_id {user_id}: no profile in this model run")
        self.user_id = user_id

    def __reduce__(self):  # Ray pickles it across deployments: rebuild from the id, not args
        return (type(self), (self.user_id,))


class BadEventsError(ValueError):
    """The request's events cannot be used (e.g. none falls in a known category)."""
