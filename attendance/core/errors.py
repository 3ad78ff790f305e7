"""Errors of the use cases. Entrypoints turn them into messages in one place.

Exception tree::

    ServiceError                 the request cannot be done; ``str()`` is fit to show a person
    ├── NotFound                 no such tenant or employee
    ├── NotAllowed               the person's role (or whose record it is) does not allow it
    ├── Conflict                 it exists already
    └── ConsentRequired          face data without recorded consent
    (PhotoRefused, from the domain, for photos the pipeline or the enrollment rules refuse)

    ReplyFailed                  a person could not be told an outcome (the chat platform or the
                                 callback refused or was unreachable); the job retries its reply

    StoreUnavailable             the database did not answer (an outage, a timeout): try again
                                 later. Raised by the storage adapters in place of the driver's
                                 own errors, so no loop above them knows which database it is.
"""

from __future__ import annotations


class ServiceError(Exception):
    pass


class NotFound(ServiceError):
    pass


class NotAllowed(ServiceError):
    pass


class Conflict(ServiceError):
    pass


class ConsentRequired(ServiceError):
    pass


class StoreUnavailable(Exception):
    pass


class ReplyFailed(Exception):
    pass
