"""Checks of the worker's control messages, for the supervisor (kernel.py).

User code runs in the worker and can write anything into its control pipe, so every message
read from it is parsed here: a malformed one raises WorkerFault (the supervisor replaces the
worker, never dies), and every field that is forwarded to the host is typed and capped.
"""

import json

# Caps on what the worker (user code: it can write anything into its control pipe) may make us
# hold or forward to the host. The host caps each protocol line too; these keep every line we
# send well under its cap, so one sandbox can not make the host parse or buffer a huge message.
WORKER_LINE_LIMIT = 16 * 1024 * 1024  # one control line from the worker, bytes
CALL_NAME_LIMIT = 128  # characters of a host call's name
CALL_ARGS_LIMIT = 64 * 1024  # a host call's arguments, as JSON
EVENT_NAME_LIMIT = 256  # characters of an event's name
EVENTS_LIMIT = 1024 * 1024  # all of a cell's events, as JSON
# JSON values (objects, lists, strings, numbers...) in a cell's events: parsing and checking
# many small values costs the host far more per byte than one long string does.
EVENT_VALUES_LIMIT = 50_000
VALUE_LIMIT = 20_000  # characters of a cell's value (the worker cuts it there too)
ERROR_NAME_LIMIT = 256
ERROR_MESSAGE_LIMIT = 16 * 1024
TRACEBACK_LIMIT = 64 * 1024


MARKER_ROOM = 80  # characters kept free for clip's marker


def clip(text, limit):
    """`text` cut to at most `limit` characters, head and tail kept around a marker. The result
    fits the limit marker included, so clipping twice (worker, then supervisor) changes nothing."""
    if len(text) <= limit:
        return text
    half = max(0, limit - MARKER_ROOM) // 2
    omitted = len(text) - 2 * half
    return text[:half] + "\n[... %d characters omitted by dynabox ...]\n" % omitted + text[len(text) - half:]


def json_size(value):
    """Length of `value` as we send it (ASCII JSON), or None if it is not JSON at all."""
    try:
        return len(json.dumps(value, ensure_ascii=True, separators=(",", ":")))
    except (TypeError, ValueError, RecursionError):
        return None


def no_constants(name):
    return None  # NaN and Infinity are not JSON: the host could not parse them


# Built once: json.loads with a parse_constant argument builds a decoder per call, which cost
# more than the rest of a trivial cell's checks.
DECODER = json.JSONDecoder(parse_constant=no_constants)


def parse_worker_line(line):
    try:
        message = DECODER.decode(line.decode("utf-8"))
    except (ValueError, RecursionError):
        raise WorkerFault("a control line that is not JSON")
    if not isinstance(message, dict):
        raise WorkerFault("a control line that is not a JSON object")
    kind = message.get("type")
    if kind not in ("ready", "call", "done"):
        raise WorkerFault("a control message of unknown type")
    if kind != "ready" and not isinstance(message.get("id"), str):
        raise WorkerFault("a control message without a cell id")
    return message


def count_values(value, limit):
    """JSON values (keys included) in `value`; stops counting once past `limit`."""
    pending = [value]
    count = 0
    while pending and count <= limit:
        item = pending.pop()
        count += 1
        if isinstance(item, dict):
            pending.extend(item.values())
            count += len(item)  # the keys
        elif isinstance(item, (list, tuple)):
            pending.extend(item)
    return count


def more_values_than(value, limit):
    return count_values(value, limit) > limit


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class WorkerFault(Exception):
    """The worker broke the protocol: it is killed and a fresh one started, never us."""


def checked_call(message):
    """(name, args, refusal): a host call from the worker; refusal is set when it is over a cap."""
    name = message.get("name")
    if not isinstance(name, str):
        raise WorkerFault("a host call without a name")
    if len(name) > CALL_NAME_LIMIT:
        return name, None, "the host call's name is over %d characters" % CALL_NAME_LIMIT
    args = message.get("args")
    size = json_size(args)
    if size is None:
        raise WorkerFault("a host call whose arguments are not JSON")
    if size > CALL_ARGS_LIMIT:
        return name, None, "the arguments are %d bytes as JSON, over the limit of %d" % (size, CALL_ARGS_LIMIT)
    return name, args, None


def checked_outcome(message):
    """A cell's `done` message from the worker, typed and cut to the caps; faults if malformed."""
    value = message.get("value")
    if value is not None and not isinstance(value, str):
        raise WorkerFault("a cell value that is not text")
    if value is not None:
        value = clip(value, VALUE_LIMIT)
    error = message.get("error")
    if error is not None:
        if not isinstance(error, dict):
            raise WorkerFault("a cell error that is not an object")
        fields = {}
        for key, limit in (("name", ERROR_NAME_LIMIT), ("message", ERROR_MESSAGE_LIMIT), ("traceback", TRACEBACK_LIMIT)):
            text = error.get(key, "")
            if not isinstance(text, str):
                raise WorkerFault("a cell error whose %s is not text" % key)
            fields[key] = clip(text, limit)
        error = fields
    events = message.get("events")
    if events is None:
        events = []
    if not isinstance(events, list):
        raise WorkerFault("cell events that are not a list")
    for event in events:
        if not isinstance(event, dict) or not isinstance(event.get("name"), str):
            raise WorkerFault("a cell event that is not an object with a name")
    if events:
        events = [{"name": event["name"], "payload": event.get("payload")} for event in events]
        too_long = [event["name"] for event in events if len(event["name"]) > EVENT_NAME_LIMIT]
        size = json_size(events)
        if size is None:
            raise WorkerFault("cell events that are not JSON")
        too_many = size <= EVENTS_LIMIT and more_values_than(events, EVENT_VALUES_LIMIT)
        if too_long or size > EVENTS_LIMIT or too_many:
            if too_long:
                reason = "an event name is over %d characters" % EVENT_NAME_LIMIT
            elif too_many:
                reason = "the cell's events hold over %d JSON values, over the limit" % EVENT_VALUES_LIMIT
            else:
                reason = "the cell's events are %d bytes as JSON, over the limit of %d" % (size, EVENTS_LIMIT)
            events = []
            error = {"name": "DynaboxLimitError", "message": reason + "; the events were dropped", "traceback": ""}
    cpu_ms = message.get("cpu_ms")
    peak_mem_mb = message.get("peak_mem_mb")
    return {
        "value": value,
        "error": error,
        "events": events,
        "cpu_ms": cpu_ms if is_number(cpu_ms) else None,
        "peak_mem_mb": peak_mem_mb if is_number(peak_mem_mb) else None,
    }
