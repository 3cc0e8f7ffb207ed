#pragma once

// Module-internal (src/config only): one parser per top-level key of paddock.yaml, and the
// checks that need more than one section. ParseTree (config.cc) calls each Parse* for its key,
// in file order, then the Check* functions once every section is read. Each reads its part of
// the YAML tree into `config` and reports every problem through the Parser (with file, line and
// key path); none throws, and a section with errors leaves the defaults where it could not read
// a value (the load then fails as a whole, see config/config.h).

#include "config/config.h"
#include "config/parser.h"

namespace paddock::config::detail {

// sections.cc: server, dhcp, tftp, http, boot. `has_address` is set when server.address is
// present (valid or not), so ParseTree reports a missing one only once.
void ParseServer(Parser& p, const MapView::Entry& section, Config& config, bool& has_address);
void ParseDhcp(Parser& p, const MapView::Entry& section, Config& config);
void ParseTftp(Parser& p, const MapView::Entry& section, Config& config);
void ParseHttp(Parser& p, const MapView::Entry& section, Config& config);
void ParseBoot(Parser& p, const MapView::Entry& section, Config& config);

// inventory_sections.cc: profiles (and the template files they name), groups, machines.
void ParseProfiles(Parser& p, const MapView::Entry& section, Config& config);
void ParseGroups(Parser& p, const MapView::Entry& section, Config& config);
void ParseMachines(Parser& p, const MapView::Entry& section, Config& config);

// registry_section.cc: the OCI pull-through cache.
void ParseRegistry(Parser& p, const MapView::Entry& section, Config& config);

// Checks across fields, once every section is read.

// sections.cc: full mode needs a range and a netmask; the range and the reservations must sit
// in server.address's subnet, not contain it, and not reserve a MAC or IP twice.
void CheckDhcp(Parser& p, Config& config, bool has_address);
// inventory_sections.cc: inventory::Validate's findings, and every iPXE template dry-rendered.
void CheckInventory(Parser& p, Config& config);

}  // namespace paddock::config::detail
