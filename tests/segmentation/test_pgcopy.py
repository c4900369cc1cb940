import struct

import numpy as np
import pytest
from django.db import connection

from segmentation.pgcopy import HEADER, TRAILER, binary_copy_payload


def test_payload_layout_by_hand():
    payload = binary_copy_payload(
        [
            (np.array([7, -1]), "bigint"),
            (np.array([1.5, np.nan]), "double precision"),
            (np.array([True, False]), "boolean"),
            (np.array([3, 4]), "smallint"),
        ]
    )
    rows = b"".join(
        struct.pack("!h", 4)
        + struct.pack("!iq", 8, pid)
        + struct.pack("!id", 8, value)
        + struct.pack("!i?", 1, flag)
        + struct.pack("!ih", 2, small)
        for pid, value, flag, small in [(7, 1.5, True, 3), (-1, float("nan"), False, 4)]
    )
    assert payload == HEADER + rows + TRAILER


@pytest.mark.django_db
def test_postgresql_reads_it_back():
    payload = binary_copy_payload(
        [
            (np.array([1, 2, 3]), "bigint"),
            (np.array([0.25, np.nan, -3.0]), "double precision"),
            (np.array([False, True, True]), "boolean"),
            (np.array([10, 20, 30]), "integer"),
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE pgcopy_probe (a bigint, b double precision, c boolean, d integer)"
        )
        with cursor.cursor.copy("COPY pgcopy_probe FROM STDIN WITH (FORMAT binary)") as copy:
            copy.write(payload)
        cursor.execute("SELECT a, NULLIF(b, 'NaN'), c, d FROM pgcopy_probe ORDER BY a")
        assert cursor.fetchall() == [(1, 0.25, False, 10), (2, None, True, 20), (3, -3.0, True, 30)]


def test_empty_payload():
    assert binary_copy_payload([(np.array([], dtype=np.int64), "bigint")]) == HEADER + TRAILER
