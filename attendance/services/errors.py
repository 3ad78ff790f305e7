"""Errors of the use cases. Entrypoints turn them into messages in one place.

Exception tree::

    ServiceError                 the request cannot be done; ``str()`` is fit to show a person
    ├── NotFound                 no such tenant or employee
    ├── NotAllowed               the person's role (or whose record it is) does not allow it
    ├── Conflict                 it exists already
    └── ConsentRequired          face data without recorded consent
    (PhotoRefused, from the domain, for photos the pipeline or the enrollment rules refuse)
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
