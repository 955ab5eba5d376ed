# Conan 2 recipe for mimalloc-rs: mimalloc 2.1.7 re-implemented in Rust, with the C
# library's interface. Build and test it from this directory with
#
#   conan create . [-o "mimalloc-rs/*:shared=True"] [-o "mimalloc-rs/*:secure=True"]
#
# Consumers use it like Conan Center's mimalloc:
#   find_package(mimalloc REQUIRED CONFIG)
#   target_link_libraries(app PRIVATE mimalloc)          # shared=True
#   target_link_libraries(app PRIVATE mimalloc-static)   # shared=False
#
# The options are those of Conan Center's mimalloc recipe (shared, fPIC, secure,
# override, inject, single_object). The Rust core is built by the project's CMake build,
# which runs cargo: a Rust toolchain (1.80 or later) must be installed on the build
# machine (rustup, or Debian's rustc-web and cargo-web); cargo fetches the crates
# locked in Cargo.lock into its own cache.
import os

from conan import ConanFile
from conan.errors import ConanInvalidConfiguration
from conan.tools.build import build_jobs
from conan.tools.cmake import CMake, CMakeToolchain, cmake_layout
from conan.tools.files import copy, load, rmdir
from conan.tools.scm import Version

required_conan_version = ">=2.0"


class MimallocRsConan(ConanFile):
    name = "mimalloc-rs"
    description = ("mimalloc 2.1 re-implemented in Rust: a compact general purpose allocator "
                   "with excellent performance, a drop-in for the C library")
    license = "MIT"
    topics = ("mimalloc", "allocator", "malloc", "performance", "rust")
    package_type = "library"
    settings = "os", "arch", "compiler", "build_type"
    options = {
        "shared": [True, False],
        "fPIC": [True, False],
        # MI_SECURE=ON: guard pages, encoded free lists, double-free detection, ...
        "secure": [True, False],
        # MI_OVERRIDE: the library defines malloc, free, new, delete, ... itself
        "override": [True, False],
        # shared + override: link the library into every consumer even when it calls
        # no mi_* function (--no-as-needed), so that it replaces malloc
        "inject": [True, False],
        # static + override: consumers link the single object mimalloc.o instead of
        # libmimalloc.a, so that its malloc wins whatever the link order
        "single_object": [True, False],
    }
    default_options = {
        "shared": False,
        "fPIC": True,
        "secure": False,
        "override": False,
        "inject": False,
        "single_object": False,
    }
    exports_sources = (
        "CMakeLists.txt", "Cargo.toml", "Cargo.lock", "cbindgen.toml", "mimalloc.pc.in",
        "build.rs", "src/*", "shim/*", "cabi/*", "cmake/*", "include/*", "tests/*",
        "examples/*", "debian/copyright",
        # a member of the cargo workspace: cargo reads its manifest to load the workspace
        "minject/*",
    )

    def set_version(self):
        # the version of the crate (Cargo.toml), which CMake also checks against its own
        text = load(self, os.path.join(self.recipe_folder, "Cargo.toml"))
        for line in text.splitlines():
            if line.startswith("version"):
                self.version = line.split("=", 1)[1].strip().strip('"')
                return

    def config_options(self):
        if self.settings.os == "Windows":
            del self.options.fPIC

    def configure(self):
        # a C library: no C++ settings matter to consumers
        self.settings.rm_safe("compiler.libcxx")
        self.settings.rm_safe("compiler.cppstd")
        if self.options.shared:
            self.options.rm_safe("fPIC")
            self.options.rm_safe("single_object")
        else:
            self.options.rm_safe("inject")
        if not self.options.override:
            self.options.rm_safe("inject")
            self.options.rm_safe("single_object")

    def validate(self):
        if self.settings.os != "Linux":
            raise ConanInvalidConfiguration(f"{self.ref} is built and tested on Linux only")
        if self.settings.arch not in ("x86_64", "armv8"):
            raise ConanInvalidConfiguration(f"{self.ref} supports x86_64 and armv8 only")
        if self.settings.compiler in ("gcc", "clang") and Version(self.settings.compiler.version) < "7":
            raise ConanInvalidConfiguration(f"{self.ref} needs a C11 compiler")

    def layout(self):
        cmake_layout(self, src_folder=".")

    def generate(self):
        tc = CMakeToolchain(self)
        tc.cache_variables["MI_BUILD_SHARED"] = bool(self.options.shared)
        tc.cache_variables["MI_BUILD_STATIC"] = not self.options.shared
        tc.cache_variables["MI_BUILD_OBJECT"] = bool(self.options.get_safe("single_object", False))
        tc.cache_variables["MI_BUILD_TESTS"] = False
        tc.cache_variables["MI_SECURE"] = bool(self.options.secure)
        tc.cache_variables["MI_OVERRIDE"] = bool(self.options.override)
        tc.cache_variables["MI_INSTALL_TOPLEVEL"] = True
        tc.cache_variables["MI_CARGO_JOBS"] = str(build_jobs(self))
        tc.generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def package(self):
        copy(self, "copyright", src=os.path.join(self.source_folder, "debian"),
             dst=os.path.join(self.package_folder, "licenses"))
        cmake = CMake(self)
        cmake.install()
        # Conan's CMakeDeps and PkgConfigDeps make these from package_info()
        rmdir(self, os.path.join(self.package_folder, "lib", "cmake"))
        rmdir(self, os.path.join(self.package_folder, "lib", "pkgconfig"))

    @property
    def _basename(self):
        name = "mimalloc"
        if self.options.secure:
            name += "-secure"
        if self.settings.build_type not in ("Release", "RelWithDebInfo", "MinSizeRel"):
            name += "-" + str(self.settings.build_type).lower()
        return name

    def package_info(self):
        # the names of the C library's own CMake package and pkg-config file
        self.cpp_info.set_property("cmake_file_name", "mimalloc")
        self.cpp_info.set_property("cmake_target_name", "mimalloc" if self.options.shared else "mimalloc-static")
        self.cpp_info.set_property("pkg_config_name", "mimalloc")
        if self.options.get_safe("single_object"):
            # the whole library as one object, linked ahead of libc's malloc
            self.cpp_info.libs = []
            self.cpp_info.objects = [os.path.join("lib", self._basename + ".o")]
        else:
            self.cpp_info.libs = [self._basename]
        if not self.options.shared:
            self.cpp_info.system_libs = ["pthread", "rt", "m", "atomic"]
        if self.options.get_safe("inject"):
            self.cpp_info.exelinkflags = ["-Wl,--push-state,--no-as-needed", "-l" + self._basename,
                                          "-Wl,--pop-state"]
            self.cpp_info.sharedlinkflags = self.cpp_info.exelinkflags
