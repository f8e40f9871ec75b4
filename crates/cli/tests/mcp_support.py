"""What the Python SDK tests of `cordon mcp` share: checks that count, and
the process table read from /proc (Linux)."""

import os

passed, failed = 0, 0


def check(name, condition, detail=""):
    """Prints one line for a check and counts it."""
    global passed, failed
    if condition:
        passed += 1
        print(f"ok     {name}")
    else:
        failed += 1
        print(f"FAILED {name}: {detail}")


def finish():
    """Prints 'N passed, N failed' and exits non-zero on any failure."""
    print(f"{passed} passed, {failed} failed")
    raise SystemExit(1 if failed else 0)


def children_map():
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def descendants(pid):
    children, found, todo = children_map(), [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid):
    """Whether `pid` runs: a zombie is dead for this purpose."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""
