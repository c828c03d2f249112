// Includes libopendkim's <dkim.h> for the verifier (dkim.cpp).
// Private to the auth component.
#pragma once

#include <stdbool.h>  // before <dkim.h>: it declares _Bool parameters (deps.md trap T2)
#ifndef _Bool
#define _Bool bool  // g++'s <stdbool.h> maps it in C++; clang's only outside strict modes
#endif

#include <dkim.h>
