"""Building blocks shared by every wire message.

Contracts:

* A *message* (:class:`WireMessage`) can travel on its own, on the uplink or the local API.
  It carries a ``type`` discriminator (a ``Literal`` string such as ``"reading"``) and a
  schema ``version`` (``Literal[1]``, or higher for a message whose wire form changed since:
  a ``status`` is at 2); the codec refuses any other version, naming the one it speaks.
* A *part* (:class:`WirePart`) only ever travels inside a message (a channel series inside a
  status, say) and is versioned with its container, so it carries neither field.
* Both are frozen and forbid unknown fields. Floats must be finite: a NaN or an infinity is
  never a real reading (defect 17 of the original put failures in-band as magic numbers).
* Times are timezone-aware ``datetime`` values; naive ones are refused. Producers use UTC;
  JSON carries ISO-8601 with ``Z`` (or an explicit offset, which is accepted on input).
* Names on the wire are deliberately a little looser than the layout's rules (which stay the
  authority on what a house may be called): lowercase ASCII words joined by ``.``, ``-`` or
  ``_``. That keeps every name safe as an MQTT topic level (no ``/``, ``+``, ``#``, spaces).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated, Final

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

PROTOCOL_VERSION: Final = 1
"""Version of the local API conversation (sent in :class:`~scada.protocol.api_frames.Hello`)."""

SCHEMA_VERSION: Final = 1
"""The ``version`` of every message whose wire form has not changed since the first release.
A message that changed carries its own, higher one (:class:`~scada.protocol.Status`: 2)."""

NAME_PATTERN: Final = r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$"
UUID_PATTERN: Final = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
# Printable text: no control characters, so one log line or table cell stays one line.
_TEXT_PATTERN: Final = r"^[^\x00-\x1f\x7f]*$"
_LABEL_PATTERN: Final = r"^[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f])?$"

Alias = Annotated[str, StringConstraints(pattern=NAME_PATTERN, max_length=128)]
"""A node alias (``a.tank.temp0``) or a GNode alias (``dw1.isone.nh.orange.1``)."""

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN, max_length=64)]
"""A short identifier: channel ``tank-temp0``, device ``relay-board``, quantity ``water_temp``."""

ChannelName = Name
DeviceName = Name

MessageId = Annotated[str, StringConstraints(pattern=UUID_PATTERN)]
"""A canonical lowercase UUID string; see :func:`new_id`."""

Operator = Annotated[str, StringConstraints(pattern=_LABEL_PATTERN, max_length=64)]
"""Who did it: a person's name as typed in the console, never blank, no control characters."""

Label = Annotated[str, StringConstraints(pattern=_LABEL_PATTERN, max_length=128)]
"""A short single-line non-blank label (display names, actions, interlock names)."""

Unit = Annotated[str, StringConstraints(pattern=_LABEL_PATTERN, max_length=16)]
"""A unit symbol as a person reads it: ``degC``, ``W``, ``gpm``, ``%``."""

Text = Annotated[str, StringConstraints(pattern=_TEXT_PATTERN, max_length=4096)]
"""Free single-line text (reasons, summaries, error messages)."""

LongText = Annotated[str, StringConstraints(max_length=65536)]
"""Free multi-line text (problem details, tracebacks)."""

UtcTime = AwareDatetime
"""A timezone-aware instant; JSON ISO-8601 with ``Z`` or an offset."""

Seq = Annotated[int, Field(ge=0, le=2**53)]
"""A per-boot counter; bounded to what a JSON number carries exactly."""


def new_id() -> str:
    """A fresh random message id in the canonical form :data:`MessageId` accepts."""
    return str(uuid.uuid4())


def check_unique(names: Sequence[str], what: str) -> None:
    """Raise ``ValueError`` naming the duplicates if ``names`` repeats any (for validators)."""
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"duplicate {what}: {', '.join(dupes)}")


class WirePart(BaseModel):
    """A frozen piece of a message; never sent alone, so it has no type or version."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class WireMessage(BaseModel):
    """A frozen, versioned message that can travel alone.

    Subclasses narrow ``type`` to a ``Literal`` with a default and set
    ``version: Literal[1] = 1`` (bumped to ``Literal[2] = 2`` and so on when their wire form
    changes); those two fields come first in the JSON.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    type: str
    version: int
