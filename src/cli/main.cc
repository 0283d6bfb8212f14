// rigshift: the one binary. Subcommands are thin: they parse flags, call a library, print.
#include <CLI/CLI.hpp>

#include <chrono>
#include <iostream>

#include "cli/agent_command.h"
#include "cli/asic_command.h"
#include "cli/data_import.h"
#include "cli/dr_command.h"
#include "cli/store_command.h"
#include "cli/bench_command.h"
#include "cli/contract_command.h"
#include "cli/market_command.h"
#include "cli/server_command.h"
#include "cli/sim_command.h"
#include "cli/tenant_command.h"
#include "cli/prices_command.h"
#include "cli/whatif_command.h"

namespace {

int Fail(const rigshift::Status& s) {
  std::cerr << "rigshift: " << s.message() << "\n";
  switch (s.code()) {
    case rigshift::StatusCode::kInternal:
    case rigshift::StatusCode::kDataLoss:
    case rigshift::StatusCode::kUnavailable:
      return 1;  // our failure or the machine's
    default:
      return 2;  // the input: a flag, a file, a date, a model
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rigshift: run a GPU farm for AI leases and mining, whichever pays more"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "rigshift 0.1.0");

  // data import
  auto* data = app.add_subcommand("data", "Import and inspect the market data");
  data->require_subcommand(1);
  rigshift::ImportOptions import_opts;
  int examples = 5;
  auto* import = data->add_subcommand("import", "Import the public data into canonical files");
  import->add_option("--source", import_opts.source, "Folder laid out like ../shared/data")->capture_default_str();
  import->add_option("--out", import_opts.out, "Data folder to write (replaced only when the import succeeds)")
      ->capture_default_str();
  import->add_flag("--strict", import_opts.strict, "Fail when any row is rejected");
  import->add_option("--examples", examples, "File:line examples shown per reason")->capture_default_str();

  // market
  rigshift::MarketOptions market_opts;
  auto* market = app.add_subcommand("market", "What each GPU model earned per day mining, beside renting it");
  rigshift::AddMarketFlags(*market, market_opts);

  // sim and plan
  rigshift::SimOptions sim_opts, plan_opts;
  auto* sim = app.add_subcommand("sim", "Replay a scenario under one policy");
  rigshift::AddSimFlags(*sim, sim_opts, /*plan=*/false);
  auto* plan = app.add_subcommand("plan", "Replay a scenario under every policy beside the oracle bound");
  rigshift::AddSimFlags(*plan, plan_opts, /*plan=*/true);

  // bench
  rigshift::BenchOptions bench_engine_opts, bench_sim_opts;
  bench_sim_opts.gpus = 40'000;
  auto* bench = app.add_subcommand("bench", "Measure the engine and the simulator");
  bench->require_subcommand(1);
  auto* bench_engine = bench->add_subcommand("engine", "Placement latency and re-plan time on a large fleet");
  auto* bench_sim = bench->add_subcommand("sim", "Wall time of a long replay of a large farm");
  for (auto [cmd, opts] : {std::pair{bench_engine, &bench_engine_opts}, std::pair{bench_sim, &bench_sim_opts}}) {
    cmd->add_option("--data", opts->data, "Imported data folder")->capture_default_str();
    cmd->add_option("--gpus", opts->gpus, "Fleet size")->capture_default_str();
    cmd->add_option("--format", opts->format, "table or json")->check(CLI::IsMember({"table", "json"}))->capture_default_str();
  }
  bench_engine->add_option("--samples", bench_engine_opts.samples, "Placements timed")->capture_default_str();
  bench_sim->add_option("--days", bench_sim_opts.days, "Days replayed")->capture_default_str();
  bench_sim->add_option("--scenario", bench_sim_opts.scenario, "Scenario scaled to --gpus")->capture_default_str();

  // catalog
  std::string catalog_data = "data";
  auto* catalog = app.add_subcommand("catalog", "List the GPU models in the imported catalog");
  catalog->add_option("--data", catalog_data, "Imported data folder")->capture_default_str();

  // server
  rigshift::ServerOptions server_opts;
  auto* server = app.add_subcommand("server", "Run the controller: REST API, store, billing, market feed");
  rigshift::AddServerFlags(*server, server_opts);

  // store copy
  rigshift::StoreCopyOptions copy_opts;
  auto* store = app.add_subcommand("store", "Move a farm's history between stores");
  store->require_subcommand(1);
  auto* store_copy = store->add_subcommand(
      "copy", "Copy every token, lease and ledger entry into an empty store, then compare the copy with the source");
  store_copy->add_option("--from", copy_opts.from, "A SQLite file (DATA_DIR/rigshift.db) or a postgresql:// URL")
      ->required();
  store_copy->add_option("--to", copy_opts.to, "An empty store: a postgresql:// URL, or a SQLite file (made if missing)")
      ->required();

  // Tenant verbs (offers, lease ..., invoices, token create): each runs in its own callback and
  // reports through exit_code.
  int exit_code = 0;
  rigshift::AddTenantCommands(app, &exit_code);
  rigshift::AddAgentCommands(app, &exit_code);  // agent parse
  rigshift::AddAsicCommands(app, &exit_code);   // asic status|pool|sleep|wake, pdu read
  rigshift::AddContractCommands(app, &exit_code);  // contract backtest
  rigshift::AddDrCommands(app, &exit_code);        // dr backtest --program 4cp
  rigshift::AddWhatIfCommand(app, &exit_code);     // whatif FARM CHANGE
  rigshift::AddPricesCommands(app, &exit_code);    // prices list|set

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; a bad or missing flag is the user's input: exit 2 as elsewhere.
    return app.exit(e) == 0 ? 0 : 2;
  }

  if (server->parsed()) {
    rigshift::Status s = rigshift::RunServer(server_opts, std::cout, std::cerr);
    return s.ok() ? 0 : Fail(s);
  }

  if (import->parsed()) {
    auto t0 = std::chrono::steady_clock::now();
    auto report = rigshift::RunImport(import_opts, std::cerr);
    if (!report) return Fail(report.error());
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cout << report->Summary(examples);
    std::cout << "imported " << import_opts.source.string() << " into " << import_opts.out.string() << " in "
              << static_cast<int>(s * 1000) << " ms (full report: " << (import_opts.out / "import_report.json").string()
              << ")\n";
    return 0;
  }
  if (market->parsed()) {
    rigshift::Status s = rigshift::RunMarket(market_opts, std::cout, std::cerr);
    return s.ok() ? 0 : Fail(s);
  }
  if (sim->parsed() || plan->parsed()) {
    rigshift::Status s = rigshift::RunSim(sim->parsed() ? sim_opts : plan_opts, std::cout, std::cerr);
    return s.ok() ? 0 : Fail(s);
  }
  if (bench_engine->parsed()) {
    rigshift::Status s = rigshift::RunBenchEngine(bench_engine_opts, std::cout, std::cerr);
    return s.ok() ? 0 : Fail(s);
  }
  if (bench_sim->parsed()) {
    rigshift::Status s = rigshift::RunBenchSim(bench_sim_opts, std::cout, std::cerr);
    return s.ok() ? 0 : Fail(s);
  }
  if (store_copy->parsed()) {
    rigshift::Status s = rigshift::RunStoreCopy(copy_opts, std::cout, std::cerr);
    return s.ok() ? 0 : Fail(s);
  }
  if (catalog->parsed()) {
    rigshift::Status s = rigshift::RunCatalog(catalog_data, std::cout);
    return s.ok() ? 0 : Fail(s);
  }
  return exit_code;
}
