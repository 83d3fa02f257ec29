// Test entry point shared by every area's test binary: SystemC warnings and errors become test failures.
#include <gtest/gtest.h>
#include <systemc>
#include <cstdlib>

namespace {
void report_handler(const sc_core::sc_report& rep, const sc_core::sc_actions& actions) {
  if (rep.get_severity() >= sc_core::SC_WARNING && rep.get_severity() != sc_core::SC_FATAL) {
    ADD_FAILURE() << "SystemC " << (rep.get_severity() == sc_core::SC_WARNING ? "warning" : "error") << ": "
                  << rep.get_msg_type() << ": " << rep.get_msg();
  }
  sc_core::sc_report_handler::default_handler(rep, actions & ~(sc_core::SC_STOP | sc_core::SC_ABORT));
}
}  // namespace

int main(int argc, char** argv) {
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 1);
  sc_core::sc_report_handler::set_handler(report_handler);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}

// libsystemc references sc_main; tests elaborate and call sc_start themselves.
extern "C" int sc_main(int, char**) { return 0; }
