# Writes IN's text into OUT as a C++ raw string constant `downbeat::protocol::schema_json`.
file(READ ${IN} content)
file(WRITE ${OUT} "#pragma once\n#include <string_view>\nnamespace downbeat::protocol {\ninline constexpr std::string_view schema_json = R\"DBSCHEMA(${content})DBSCHEMA\";\n}\n")
