"""Named checks for the Python test scripts run by CTest.

    from checks import Checks
    c = Checks()
    c.check("server answers", reply == b"x", reply)
    sys.exit(c.finish())   # prints "N passed, N failed"; non-zero on any failure
"""


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, condition, detail=""):
        if condition:
            self.passed += 1
            print(f"ok   {name}")
        else:
            self.failed += 1
            print(f"FAIL {name} {detail}")

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed")
        return 1 if self.failed else 0
