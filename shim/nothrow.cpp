// The one thing the C shim cannot do: run a new_handler for a `nothrow` operator new and
// turn an exception it throws into a null result, as the C++ standard requires.
//
// The C++ runtime symbols this needs (personality routine, __cxa_begin_catch, ...) are
// made weak by build.rs (objcopy --weaken-symbol), so the library still does not depend
// on libstdc++: the function is only reached from a C++ program with a new_handler
// installed, where the runtime is present.
typedef void (*mi_rs_new_handler_t)(void);

extern "C" bool mi_rs_call_new_handler_nothrow(mi_rs_new_handler_t handler) noexcept {
  try {
    handler();
    return true;
  } catch (...) {
    return false;
  }
}
