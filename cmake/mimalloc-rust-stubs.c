/* Definitions that a Rust static library may reference but not define.

   A `no_std`, `panic = "abort"` Rust library built without LTO still carries unwind
   tables from the precompiled `core`, whose CIEs name the personality routine
   `rust_eh_personality`. Nothing ever unwinds through mimalloc (every panic aborts),
   so the routine is never called; a weak definition satisfies the linker and yields
   to a real one if the Rust code ever defines it. It is linked into the combined
   object and made local there, so it is never visible to programs. */

__attribute__((weak, visibility("hidden"))) void rust_eh_personality(void);

__attribute__((weak, visibility("hidden"))) void rust_eh_personality(void) {
  __builtin_trap();
}
