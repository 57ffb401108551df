"""Schemathesis checks of scripts/fuzz-rest beyond the built-in ones: what the spec's schema of
the envelope cannot say."""

import schemathesis

# Tencent's code for an internal server error: the envelope of a failure that is the server's
# fault, never the request's (the server logs it as a store failure).
INTERNAL = 6999


@schemathesis.check
def tencent_envelope(ctx, response, case):
    """ActionStatus OK exactly when ErrorCode is 0, and no internal error for any request."""
    if response.status_code != 200:
        return None
    try:
        reply = response.json()
    except ValueError:
        return None  # content_type_conformance and response_schema_conformance report it
    if not isinstance(reply, dict):
        return None
    status, code = reply.get("ActionStatus"), reply.get("ErrorCode")
    if code == INTERNAL:
        raise AssertionError(f"ErrorCode {INTERNAL} (internal error): {reply.get('ErrorInfo')}")
    if (status == "OK") != (code == 0):
        raise AssertionError(f"ActionStatus {status!r} with ErrorCode {code!r}")
    return None
