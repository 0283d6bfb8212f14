// rigshift: the one binary. Subcommands are thin: they parse flags, call a library, print.
#include <CLI/CLI.hpp>

#include <chrono>
#include <iostream>

#include "cli/data_import.h"
#include "cli/market_command.h"
#include "cli/sim_command.h"

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

  // catalog
  std::string catalog_data = "data";
  auto* catalog = app.add_subcommand("catalog", "List the GPU models in the imported catalog");
  catalog->add_option("--data", catalog_data, "Imported data folder")->capture_default_str();

  CLI11_PARSE(app, argc, argv);

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
  if (catalog->parsed()) {
    rigshift::Status s = rigshift::RunCatalog(catalog_data, std::cout);
    return s.ok() ? 0 : Fail(s);
  }
  return 0;
}
