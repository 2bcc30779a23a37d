package dag

// CheckMemo lets the tests of package dag_test (the fuzz tests, which use
// dagtest) check a Builder's invariants after a Build of o returned d.
func CheckMemo(bl *Builder, o *Objects, d *DAG) error { return bl.checkMemo(o, d) }
