// ctest-env: GOGC=50 GODEBUG=gccheckmark=1,gcstoptheworld=2
// The destructor stress test with each whole mark in a pause and each sweep done before its cycle
// returns (GODEBUG=gcstoptheworld=2). A whole mark then fits between two instructions of a thread
// that parks, so a thread that parks at the wrong moment loses its object far more often than in
// a concurrent mark: an allocation that parked before it held its new object's address
// (tests/unit/allocation_park_test.cpp) failed here about one run in ten, against one in a
// hundred or two with the concurrent mark.
#include "destructor_stress_test.cpp"
