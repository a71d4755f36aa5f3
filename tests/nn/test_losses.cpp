// Placeholder: replaced by the tests of this area.
#include "test_util.hpp"
