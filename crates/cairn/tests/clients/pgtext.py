"""Values as PostgreSQL prints them (the suite's expected text), and suite parameters as
Python values. Shared by run_psycopg.py and run_influx.py."""
import datetime
import math
from decimal import Decimal


def pg_float(x):
    """float8 as PostgreSQL 12+ prints it: the shortest exact digits, in fixed notation for
    decimal exponents -4..14 and scientific (1e+20, 1.5e-05) outside."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "-0" if math.copysign(1.0, x) < 0 else "0"
    sign, digits, exp = Decimal(repr(x)).normalize().as_tuple()
    digits = "".join(map(str, digits))
    e = exp + len(digits) - 1
    s = "-" if sign else ""
    if -4 <= e < 15:
        if exp >= 0:
            return s + digits + "0" * exp
        point = len(digits) + exp
        if point > 0:
            return s + digits[:point] + "." + digits[point:]
        return s + "0." + "0" * (-point) + digits
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{s}{mantissa}e{'+' if e >= 0 else '-'}{abs(e):02d}"


def pg_timestamp(v):
    """timestamptz in UTC (`2024-01-01 00:00:01.5+00`); timestamp without the offset."""
    suffix = ""
    if v.tzinfo is not None:
        v = v.astimezone(datetime.timezone.utc)
        suffix = "+00"
    s = v.strftime("%Y-%m-%d %H:%M:%S")
    if v.microsecond:
        s += f".{v.microsecond:06d}".rstrip("0")
    return s + suffix


def text(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return "t" if v else "f"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return pg_float(v)
    if isinstance(v, datetime.datetime):
        return pg_timestamp(v)
    return str(v)


def param(p):
    """A suite parameter [type, value] as the Python value a program would pass."""
    kind, v = p
    if v is None:
        return None
    if kind == "int":
        return int(v)
    if kind == "float":
        return float(v)
    if kind == "bool":
        return bool(v)
    if kind == "timestamp":
        return datetime.datetime.fromisoformat(v)
    return str(v)
