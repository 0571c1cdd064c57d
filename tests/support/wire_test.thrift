// Messages that use every Thrift type, for the wire codec tests.
namespace cpp thrum.test
namespace py thrum_test

struct Inner {
  1: i32 id,
  2: string label,
  3: optional list<Inner> children,
}

struct Everything {
  1: bool flag_true,
  2: bool flag_false,
  3: i8 small,
  4: i16 short_number,
  5: i32 number,
  6: i64 big_number,
  7: double ratio,
  8: string text,
  9: binary blob,
  10: list<i32> numbers,
  11: set<string> names,
  12: map<string, Inner> by_name,
  13: list<bool> bools,
  14: map<i16, list<map<string, double>>> nested,
  15: Inner inner,
  16: list<Inner> inners,
  17: map<i32, bool> empty_map,
  300: i64 far_field_id,
}

service Everywhere {
  Everything roundTrip(1: Everything value),
}
