// The Boost.Test entry point shared by every unit-test executable (dynamic Boost.Test).
#define BOOST_TEST_MODULE mxgate
#include <boost/test/unit_test.hpp>
