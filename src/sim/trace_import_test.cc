#include "sim/trace_import.h"

#include <gtest/gtest.h>

#include "common/testing/temp_dir.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace rigshift {
namespace {

namespace fs = std::filesystem;
using testing::ReadText;
using testing::TempDir;
using testing::WriteText;

constexpr char kPods[] = "alibaba_gpu2023_openb_pods.csv";
constexpr char kPodsRel[] = "gpu_traces/alibaba_gpu2023_openb_pods.csv";
constexpr char kHeader[] =
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,"
    "scheduled_time\n";




std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

const DemandRow* Find(const std::vector<DemandRow>& rows, std::string_view id) {
  auto it = std::find_if(rows.begin(), rows.end(), [&](const DemandRow& r) { return r.source_id == id; });
  return it == rows.end() ? nullptr : &*it;
}

// Lines of `f` with the given outcome whose reason contains `text`.
std::set<int> IssueLines(const FileReport& f, RowOutcome outcome, std::string_view text = "") {
  std::set<int> out;
  for (const auto& i : f.issues) {
    if (i.outcome == outcome && i.reason.find(text) != std::string::npos) out.insert(i.line);
  }
  return out;
}

std::string ReasonAt(const FileReport& f, int line) {
  for (const auto& i : f.issues) {
    if (i.line == line) return i.reason;
  }
  return "";
}

// --- The fixture cut from the real trace (tests/fixtures/gpu_traces/README.md) ---------------

class AlibabaFixtureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status s = ImportAlibabaTrace(RIGSHIFT_FIXTURES, out_.path(), report_);
    ASSERT_TRUE(s.ok()) << s.ToString();
    auto rows = ReadDemand(out_.path() / kAlibaba2023DemandFile);
    ASSERT_TRUE(rows.has_value()) << rows.error().ToString();
    rows_ = std::move(*rows);
  }
  const FileReport& file() const { return report_.files().at(kPodsRel); }

  TempDir out_;
  ImportReport report_;
  std::vector<DemandRow> rows_;
};

TEST_F(AlibabaFixtureTest, EveryRowIsAccountedFor) {
  ASSERT_EQ(report_.files().size(), 1u);
  EXPECT_EQ(file().rows, 41);
  EXPECT_EQ(file().accepted, 35);
  EXPECT_EQ(file().Count(RowOutcome::kRejected), 0);
  EXPECT_EQ(file().Count(RowOutcome::kRepaired), 0);
  EXPECT_EQ(file().Count(RowOutcome::kSkipped), 6);
  // openb-pod-0005, -0016, -0048, -2681 ask for no GPU.
  EXPECT_EQ(IssueLines(file(), RowOutcome::kSkipped, "CPU-only pod (num_gpu=0)"),
            (std::set<int>{7, 18, 34, 42}));
  // openb-pod-0061 and -0084 were deleted while Pending.
  EXPECT_EQ(IssueLines(file(), RowOutcome::kSkipped, "never scheduled"), (std::set<int>{36, 37}));
  EXPECT_NE(ReasonAt(file(), 36).find("pod_phase=Pending"), std::string::npos);
  EXPECT_TRUE(file().warnings.empty());
  EXPECT_TRUE(report_.missing().empty());
  EXPECT_EQ(rows_.size(), 35u);
  EXPECT_EQ(report_.ToJson()["outputs"][0]["file"], "demand_alibaba2023.csv");
  EXPECT_EQ(report_.ToJson()["outputs"][0]["rows"], 35);
}

TEST_F(AlibabaFixtureTest, TheFileStartsAsWrittenByHand) {
  auto lines = Lines(ReadText(out_.path() / kAlibaba2023DemandFile));
  ASSERT_EQ(lines.size(), 36u);
  EXPECT_EQ(
      lines[0],
      "arrival_s,gpus,gpu_milli,models,min_vram_gb,interconnect,duration_s,wait_s,kind,price_usd_per_gpu_h,"
      "tenant,qos,censored,phase,cpu_milli,memory_mib,source,source_id");
  // openb-pod-0000: Running, but deleted at 12,537,496 s, before the trace end: not censored.
  EXPECT_EQ(lines[1],
            "0,1,1000,,,any,12537496,0,on_demand,,,LS,0,Running,12000,16384,"
            "alibaba_gpu2023_openb_pods.csv:2,openb-pod-0000");
  // openb-pod-0001: 46% of a GPU, still running at the trace end (12,902,960 s): censored.
  EXPECT_EQ(lines[2],
            "427061,1,460,,,any,12475899,0,on_demand,,,LS,1,Running,6000,12288,"
            "alibaba_gpu2023_openb_pods.csv:3,openb-pod-0001");
}

TEST_F(AlibabaFixtureTest, RowsMatchTheSourceByHand) {
  // openb-pod-0017,88000,327680,8,1000,,Burstable,Succeeded,9437497,10769854,9437497
  const DemandRow* multi = Find(rows_, "openb-pod-0017");
  ASSERT_NE(multi, nullptr);
  EXPECT_EQ(multi->arrival_s, 9437497);
  EXPECT_EQ(multi->gpus, 8);
  EXPECT_EQ(multi->gpu_milli, 1000);
  EXPECT_EQ(multi->interconnect, Interconnect::kNode);
  EXPECT_EQ(multi->duration_s, 10769854 - 9437497);
  EXPECT_EQ(multi->wait_s, 0);
  EXPECT_EQ(multi->kind, DemandKind::kOnDemand);
  EXPECT_EQ(multi->qos, "Burstable");
  EXPECT_EQ(multi->phase, "Succeeded");
  EXPECT_FALSE(multi->censored);
  EXPECT_EQ(multi->cpu_milli, 88000);
  EXPECT_EQ(multi->memory_mib, 327680);
  EXPECT_TRUE(multi->models.empty());
  EXPECT_FALSE(multi->min_vram_gb.has_value());
  EXPECT_FALSE(multi->price.has_value());
  EXPECT_EQ(multi->tenant, "");
  EXPECT_EQ(multi->source, "alibaba_gpu2023_openb_pods.csv:19");

  // openb-pod-0022,4000,15258,1,220,,BE,Running,9679175,9973826,9679175: best effort, shared GPU.
  const DemandRow* be = Find(rows_, "openb-pod-0022");
  ASSERT_NE(be, nullptr);
  EXPECT_EQ(be->kind, DemandKind::kInterruptible);
  EXPECT_EQ(be->gpu_milli, 220);
  EXPECT_EQ(be->interconnect, Interconnect::kAny);
  EXPECT_EQ(be->duration_s, 294651);
  EXPECT_FALSE(be->censored);

  // openb-pod-0012,8000,32768,1,1000,,LS,Running,6588193,10959245,6595531: waited 7,338 s.
  const DemandRow* waited = Find(rows_, "openb-pod-0012");
  ASSERT_NE(waited, nullptr);
  EXPECT_EQ(waited->wait_s, 7338);
  EXPECT_EQ(waited->duration_s, 10959245 - 6595531);

  // openb-pod-0422 (2 GPUs, Running) and openb-pod-2182 (4 GPUs, Failed after 6,710 s).
  const DemandRow* two = Find(rows_, "openb-pod-0422");
  ASSERT_NE(two, nullptr);
  EXPECT_EQ(two->gpus, 2);
  EXPECT_EQ(two->interconnect, Interconnect::kNode);
  const DemandRow* four = Find(rows_, "openb-pod-2182");
  ASSERT_NE(four, nullptr);
  EXPECT_EQ(four->gpus, 4);
  EXPECT_EQ(four->phase, "Failed");
  EXPECT_EQ(four->duration_s, 6710);

  // openb-pod-0129: Guaranteed is on demand.
  const DemandRow* guaranteed = Find(rows_, "openb-pod-0129");
  ASSERT_NE(guaranteed, nullptr);
  EXPECT_EQ(guaranteed->kind, DemandKind::kOnDemand);

  EXPECT_EQ(Find(rows_, "openb-pod-0005"), nullptr);  // CPU-only
  EXPECT_EQ(Find(rows_, "openb-pod-0061"), nullptr);  // never scheduled
}

TEST_F(AlibabaFixtureTest, CensoringKindsAndOrder) {
  std::vector<std::string> censored;
  int interruptible = 0;
  for (const auto& r : rows_) {
    if (r.censored) censored.push_back(r.source_id);
    interruptible += r.kind == DemandKind::kInterruptible;
    // Censored exactly when Running and deleted at the trace end.
    EXPECT_EQ(r.censored, r.phase == "Running" && r.arrival_s + *r.wait_s + r.duration_s == 12902960)
        << r.source_id;
  }
  EXPECT_EQ(censored.size(), 15u);
  EXPECT_EQ(interruptible, 4);  // openb-pod-0022, -0027, -0029, -0033
  EXPECT_TRUE(std::is_sorted(rows_.begin(), rows_.end(), [](const DemandRow& a, const DemandRow& b) {
    return std::tie(a.arrival_s, a.source_id) < std::tie(b.arrival_s, b.source_id);
  }));
}

TEST_F(AlibabaFixtureTest, WriteDemandReproducesTheImportedFile) {
  TempDir again;
  ASSERT_TRUE(WriteDemand(again.path() / "copy.csv", rows_).ok());
  EXPECT_EQ(ReadText(again.path() / "copy.csv"), ReadText(out_.path() / kAlibaba2023DemandFile));
}

// --- Inputs written by hand to temp folders ---------------------------------------------------

TEST(AlibabaImportTest, NoSourceFileIsReportedMissingAndWritesNothing) {
  TempDir src, out;
  ImportReport report;
  Status s = ImportAlibabaTrace(src.path(), out.path(), report);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(report.missing().size(), 1u);
  EXPECT_NE(report.missing()[0].first.find("alibaba_gpu2023_openb_pods"), std::string::npos);
  EXPECT_NE(report.missing()[0].second.find("demand_alibaba2023.csv"), std::string::npos);
  EXPECT_FALSE(fs::exists(out.path() / kAlibaba2023DemandFile));
}

TEST(AlibabaImportTest, EmptyFileIsAnErrorNamingItAndWritesNothing) {
  TempDir src, out;
  WriteText(src.path() / "gpu_traces" / kPods, "");
  ImportReport report;
  Status s = ImportAlibabaTrace(src.path(), out.path(), report);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(kPods), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("empty"), std::string::npos) << s.message();
  EXPECT_FALSE(fs::exists(out.path() / kAlibaba2023DemandFile));
}

TEST(AlibabaImportTest, MissingColumnIsAnErrorAndWritesNothing) {
  TempDir src, out;
  WriteText(src.path() / "gpu_traces" / kPods,
            "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time\n"
            "openb-pod-0000,12000,16384,1,1000,,LS,Running,0,12537496\n");
  ImportReport report;
  Status s = ImportAlibabaTrace(src.path(), out.path(), report);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(kPods), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("scheduled_time"), std::string::npos) << s.message();
  EXPECT_FALSE(fs::exists(out.path() / kAlibaba2023DemandFile));
}

TEST(AlibabaImportTest, StructuralErrorInASecondFileStopsTheWholeImport) {
  TempDir src, out;
  WriteText(src.path() / "gpu_traces" / kPods,
            std::string(kHeader) + "p1,1000,1024,1,1000,,LS,Running,0,10,0\n");
  WriteText(src.path() / "gpu_traces" / "alibaba_gpu2023_openb_pods_part2.csv",
            std::string(kHeader) + "p2,1000,1024,1,1000,,LS,Running,\"5,10,5\n");
  ImportReport report;
  Status s = ImportAlibabaTrace(src.path(), out.path(), report);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("alibaba_gpu2023_openb_pods_part2.csv"), std::string::npos) << s.message();
  EXPECT_FALSE(fs::exists(out.path() / kAlibaba2023DemandFile));
}

TEST(AlibabaImportTest, BadRowsAreRecordedWithTheirLineWhileTheRestImports) {
  TempDir src, out;
  WriteText(src.path() / "gpu_traces" / kPods,
            std::string(kHeader) +
                "ok-1,6000,12288,1,460,,LS,Running,100,200,110\n"                  // 2 accepted
                "trunc,6000,12288,1,460,,LS,Running,100\n"                         // 3 truncated
                "word,6000,12288,one,460,,LS,Running,100,200,100\n"                // 4 not a number
                "neg-run,6000,12288,1,1000,,LS,Failed,100,150,160\n"               // 5 deletion < scheduled
                "milli-0,6000,12288,1,0,,LS,Running,100,200,100\n"                 // 6 gpu_milli 0
                "milli-big,6000,12288,1,1200,,LS,Running,100,200,100\n"            // 7 gpu_milli 1200
                "qos,6000,12288,1,1000,,Gold,Running,100,200,100\n"                // 8 unknown qos
                "ok-1,6000,12288,1,1000,,LS,Running,300,400,300\n"                 // 9 duplicate name
                "early,6000,12288,1,1000,,LS,Running,100,200,90\n"                 // 10 scheduled < creation
                "half,6000,12288,1.5,1000,,LS,Running,100,200,100\n"               // 11 not whole
                "three,6000,12288,3,1000,V100M16|V100M32,BE,Succeeded,50,80,60\n"  // 12 accepted, 3 GPUs
                "nan-spec,6000,12288,1,250,nan,LS,Failed,70,90,70\n"               // 13 accepted, any type
                "multi-0,6000,12288,2,0,,LS,Succeeded,60,90,60\n"                  // 14 repaired gpu_milli
                "open,6000,12288,1,1000,,LS,Running,900,,950\n"                    // 15 repaired deletion
                "phase,6000,12288,1,1000,,LS,Exploded,100,200,100\n"               // 16 unknown phase
                "float,6000,12288,1,1000.0,,LS,Succeeded,120.0,130,120\n"          // 17 accepted
                "cpu,6000,12288,0,0,,LS,Running,100,1000,100\n");                  // 18 CPU-only; sets end
  ImportReport report;
  Status s = ImportAlibabaTrace(src.path(), out.path(), report);
  ASSERT_TRUE(s.ok()) << s.ToString();
  const FileReport& f = report.files().at(kPodsRel);
  EXPECT_EQ(f.rows, 17);
  EXPECT_EQ(f.accepted, 6);
  EXPECT_EQ(IssueLines(f, RowOutcome::kRejected), (std::set<int>{3, 4, 5, 6, 7, 8, 9, 10, 11, 16}));
  EXPECT_EQ(IssueLines(f, RowOutcome::kRepaired), (std::set<int>{14, 15}));
  EXPECT_EQ(IssueLines(f, RowOutcome::kSkipped), (std::set<int>{18}));
  EXPECT_NE(ReasonAt(f, 3).find("truncated"), std::string::npos) << ReasonAt(f, 3);
  EXPECT_NE(ReasonAt(f, 4).find("num_gpu: 'one'"), std::string::npos) << ReasonAt(f, 4);
  EXPECT_NE(ReasonAt(f, 5).find("negative run time"), std::string::npos) << ReasonAt(f, 5);
  EXPECT_NE(ReasonAt(f, 6).find("gpu_milli 0 is outside 1..1000"), std::string::npos) << ReasonAt(f, 6);
  EXPECT_NE(ReasonAt(f, 7).find("gpu_milli 1200"), std::string::npos) << ReasonAt(f, 7);
  EXPECT_NE(ReasonAt(f, 8).find("qos 'Gold'"), std::string::npos) << ReasonAt(f, 8);
  EXPECT_NE(ReasonAt(f, 9).find("alibaba_gpu2023_openb_pods.csv:2"), std::string::npos) << ReasonAt(f, 9);
  EXPECT_NE(ReasonAt(f, 10).find("before creation_time"), std::string::npos) << ReasonAt(f, 10);
  EXPECT_NE(ReasonAt(f, 11).find("'1.5' is not a whole number"), std::string::npos) << ReasonAt(f, 11);
  EXPECT_NE(ReasonAt(f, 16).find("pod_phase 'Exploded'"), std::string::npos) << ReasonAt(f, 16);

  auto rows = ReadDemand(out.path() / kAlibaba2023DemandFile);
  ASSERT_TRUE(rows.has_value()) << rows.error().ToString();
  ASSERT_EQ(rows->size(), 6u);
  std::vector<std::string> order;
  for (const auto& r : *rows) order.push_back(r.source_id);
  EXPECT_EQ(order, (std::vector<std::string>{"three", "multi-0", "nan-spec", "ok-1", "float", "open"}));

  const DemandRow* three = Find(*rows, "three");
  EXPECT_EQ(three->gpus, 3);
  EXPECT_EQ(three->models, (std::vector<std::string>{"V100M16", "V100M32"}));
  EXPECT_EQ(three->kind, DemandKind::kInterruptible);
  EXPECT_EQ(three->wait_s, 10);
  EXPECT_EQ(three->duration_s, 20);
  EXPECT_TRUE(Find(*rows, "nan-spec")->models.empty());
  EXPECT_EQ(Find(*rows, "multi-0")->gpu_milli, 1000);
  EXPECT_EQ(Find(*rows, "float")->arrival_s, 120);
  // No deletion time: ran to the trace end (1000, from the CPU-only pod), censored.
  const DemandRow* open = Find(*rows, "open");
  EXPECT_EQ(open->duration_s, 50);
  EXPECT_TRUE(open->censored);
  // Running but deleted at 200, before the end: a known run time.
  EXPECT_FALSE(Find(*rows, "ok-1")->censored);
}

TEST(AlibabaImportTest, UnknownColumnIsAWarning) {
  TempDir src, out;
  WriteText(src.path() / "gpu_traces" / kPods,
            "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,"
            "scheduled_time,node\n"
            "openb-pod-0000,12000,16384,1,1000,,LS,Running,0,12537496,0,openb-node-0001\n");
  ImportReport report;
  Status s = ImportAlibabaTrace(src.path(), out.path(), report);
  ASSERT_TRUE(s.ok()) << s.ToString();
  const FileReport& f = report.files().at(kPodsRel);
  ASSERT_EQ(f.warnings.size(), 1u);
  EXPECT_NE(f.warnings[0].find("'node'"), std::string::npos) << f.warnings[0];
  EXPECT_EQ(f.accepted, 1);
}

TEST(AlibabaImportTest, SuffixedFilesAreReadAndMerged) {
  TempDir src, out;
  WriteText(src.path() / "gpu_traces" / kPods,
            std::string(kHeader) + "b,1000,1024,1,1000,,LS,Succeeded,500,600,500\n");
  WriteText(src.path() / "gpu_traces" / "alibaba_gpu2023_openb_pods_part2.csv",
            std::string(kHeader) +
                "a,1000,1024,1,1000,,LS,Succeeded,100,200,100\n"
                "b,1000,1024,1,1000,,LS,Succeeded,700,800,700\n");  // same pod name again
  WriteText(src.path() / "gpu_traces" / "alibaba_gpu2023_openb_pods.txt", "not a source\n");
  WriteText(src.path() / "gpu_traces" / "alibaba_gpu2023_openb_podsX.csv", "not a source\n");
  ImportReport report;
  Status s = ImportAlibabaTrace(src.path(), out.path(), report);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(report.files().size(), 2u);
  const FileReport& part2 = report.files().at("gpu_traces/alibaba_gpu2023_openb_pods_part2.csv");
  EXPECT_EQ(part2.accepted, 1);
  EXPECT_EQ(IssueLines(part2, RowOutcome::kRejected, "already seen at alibaba_gpu2023_openb_pods.csv:2"),
            (std::set<int>{3}));
  auto rows = ReadDemand(out.path() / kAlibaba2023DemandFile);
  ASSERT_TRUE(rows.has_value()) << rows.error().ToString();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].source, "alibaba_gpu2023_openb_pods_part2.csv:2");
  EXPECT_EQ((*rows)[1].source, "alibaba_gpu2023_openb_pods.csv:2");
}

// --- Microsoft ITP 2021 jobs: the fixture cut from the real trace ------------------------------

constexpr char kJobs[] = "microsoft_itp2021_jobs.csv";
constexpr char kJobsRel[] = "gpu_traces/microsoft_itp2021_jobs.csv";
constexpr char kJobHeader[] =
    "job_id,submit_s,start_s,end_s,duration_s,queue_s,gpus,nodes,gpus_per_node,status,vc,gpu_type,cluster\n";

class ItpFixtureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status s = ImportJobTrace(RIGSHIFT_FIXTURES, out_.path(), report_, kItp2021Jobs);
    ASSERT_TRUE(s.ok()) << s.ToString();
    auto rows = ReadDemand(out_.path() / kItp2021DemandFile);
    ASSERT_TRUE(rows.has_value()) << rows.error().ToString();
    rows_ = std::move(*rows);
  }
  const FileReport& file() const { return report_.files().at(kJobsRel); }

  TempDir out_;
  ImportReport report_;
  std::vector<DemandRow> rows_;
};

TEST_F(ItpFixtureTest, EveryRowIsAcceptedAsIs) {
  ASSERT_EQ(report_.files().size(), 1u);
  EXPECT_EQ(file().rows, 50);
  EXPECT_EQ(file().accepted, 50);
  EXPECT_TRUE(file().issues.empty());    // nothing repaired, rejected or skipped
  EXPECT_TRUE(file().warnings.empty());  // no gpus_per_node, no unknown status, no unknown column
  EXPECT_TRUE(report_.missing().empty());
  EXPECT_EQ(rows_.size(), 50u);
  EXPECT_EQ(report_.ToJson()["outputs"][0]["file"], "demand_itp2021.csv");
  EXPECT_EQ(report_.ToJson()["outputs"][0]["rows"], 50);
}

TEST_F(ItpFixtureTest, TheFileStartsAsWrittenByHand) {
  auto lines = Lines(ReadText(out_.path() / kItp2021DemandFile));
  ASSERT_EQ(lines.size(), 51u);
  // a11b4fc9-8f06-7093-2b93-bcb89acf0e7e,1999,,,13423,,1,,,,,,cluster07: one GPU anywhere, no
  // queueing known, finished (the source kept finished jobs only), the cluster as tenant.
  EXPECT_EQ(lines[1],
            "1999,1,1000,,,any,13423,,on_demand,,cluster07,,0,,,,"
            "microsoft_itp2021_jobs.csv:2,a11b4fc9-8f06-7093-2b93-bcb89acf0e7e");
  EXPECT_EQ(lines[2],
            "1999,1,1000,,,any,12477,,on_demand,,cluster07,,0,,,,"
            "microsoft_itp2021_jobs.csv:3,d6fcbe84-6cbd-9525-f330-c7449cd5d050");
  // 69390f06-ec8c-40ab-16b6-7e6140b4362a,2079,,,6358,,8,,,,,,cluster07: a gang, nodes not stated.
  EXPECT_EQ(lines[25],
            "2079,8,1000,,,fabric,6358,,on_demand,,cluster07,,0,,,,"
            "microsoft_itp2021_jobs.csv:26,69390f06-ec8c-40ab-16b6-7e6140b4362a");
}

TEST_F(ItpFixtureTest, RowsMatchTheSourceByHand) {
  // 7570b0ac-5d42-10d5-40e7-ca767c8ad37a,97933,,,10983,,64,,,,,,cluster02
  const DemandRow* big = Find(rows_, "7570b0ac-5d42-10d5-40e7-ca767c8ad37a");
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(big->arrival_s, 97933);
  EXPECT_EQ(big->gpus, 64);
  EXPECT_EQ(big->gpu_milli, 1000);
  EXPECT_EQ(big->interconnect, Interconnect::kFabric);
  EXPECT_EQ(big->duration_s, 10983);
  EXPECT_FALSE(big->wait_s.has_value());
  EXPECT_EQ(big->kind, DemandKind::kOnDemand);
  EXPECT_FALSE(big->price.has_value());
  EXPECT_TRUE(big->models.empty());
  EXPECT_FALSE(big->min_vram_gb.has_value());
  EXPECT_EQ(big->tenant, "cluster02");
  EXPECT_EQ(big->qos, "");
  EXPECT_EQ(big->phase, "");
  EXPECT_FALSE(big->censored);
  EXPECT_FALSE(big->cpu_milli.has_value());
  EXPECT_FALSE(big->memory_mib.has_value());
  EXPECT_EQ(big->source, "microsoft_itp2021_jobs.csv:47");

  // d7fba2e4-685d-9bcb-8d7d-8149e2c9ea14,22394,,,2507,,2,,,,,,cluster08: the smallest gang.
  const DemandRow* two = Find(rows_, "d7fba2e4-685d-9bcb-8d7d-8149e2c9ea14");
  ASSERT_NE(two, nullptr);
  EXPECT_EQ(two->gpus, 2);
  EXPECT_EQ(two->interconnect, Interconnect::kFabric);
  EXPECT_EQ(two->tenant, "cluster08");

  // d46b31b1-b038-7076-d9f7-23afadc379a9,219493,,,1573360,,1,,,,,,cluster08: the longest job.
  const DemandRow* longest = Find(rows_, "d46b31b1-b038-7076-d9f7-23afadc379a9");
  ASSERT_NE(longest, nullptr);
  EXPECT_EQ(longest->duration_s, 1573360);
  EXPECT_EQ(longest->interconnect, Interconnect::kAny);

  // dd7c5485-6c70-7048-5093-4c874f8ccb0b,5175336,,,3738,,8,,,,,,cluster03: the last submission.
  EXPECT_EQ(rows_.back().source_id, "dd7c5485-6c70-7048-5093-4c874f8ccb0b");
  EXPECT_EQ(rows_.back().arrival_s, 5175336);
  EXPECT_EQ(rows_.back().tenant, "cluster03");
}

TEST_F(ItpFixtureTest, GangSizesClustersAndOrder) {
  std::map<int64_t, int> by_gpus;
  std::map<std::string, int> by_tenant;
  for (const auto& r : rows_) {
    ++by_gpus[r.gpus];
    ++by_tenant[r.tenant];
    EXPECT_EQ(r.interconnect, r.gpus == 1 ? Interconnect::kAny : Interconnect::kFabric) << r.source_id;
    EXPECT_FALSE(r.censored) << r.source_id;
    EXPECT_GE(r.duration_s, 600) << r.source_id;  // the source's 600 s floor
  }
  EXPECT_EQ(by_gpus, (std::map<int64_t, int>{{1, 41}, {2, 1}, {4, 1}, {8, 3}, {16, 2}, {32, 1}, {64, 1}}));
  EXPECT_EQ(by_tenant, (std::map<std::string, int>{{"cluster02", 3},
                                                   {"cluster03", 1},
                                                   {"cluster04", 2},
                                                   {"cluster07", 26},
                                                   {"cluster08", 15},
                                                   {"cluster09", 2},
                                                   {"cluster10", 1}}));
  EXPECT_TRUE(std::is_sorted(rows_.begin(), rows_.end(), [](const DemandRow& a, const DemandRow& b) {
    return std::tie(a.arrival_s, a.source_id) < std::tie(b.arrival_s, b.source_id);
  }));
  // Two cluster08 jobs submitted at 4,178 s: ordered by job_id, whatever the source order.
  ASSERT_GE(rows_.size(), 40u);
  EXPECT_EQ(rows_[38].source_id, "24785248-c0b5-770f-4b6d-35a0c7268b74");
  EXPECT_EQ(rows_[39].source_id, "c3943229-9193-4764-3a43-ab38650e1236");
}

TEST_F(ItpFixtureTest, WriteDemandReproducesTheImportedFile) {
  TempDir again;
  ASSERT_TRUE(WriteDemand(again.path() / "copy.csv", rows_).ok());
  EXPECT_EQ(ReadText(again.path() / "copy.csv"), ReadText(out_.path() / kItp2021DemandFile));
}

// --- Job traces written by hand to temp folders ------------------------------------------------

TEST(JobTraceImportTest, NoSourceFileIsReportedMissingAndWritesNothing) {
  TempDir src, out;
  ImportReport report;
  Status s = ImportJobTrace(src.path(), out.path(), report, kItp2021Jobs);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(report.missing().size(), 1u);
  EXPECT_EQ(report.missing()[0].first, "gpu_traces/microsoft_itp2021_jobs.csv");
  EXPECT_NE(report.missing()[0].second.find("demand_itp2021.csv"), std::string::npos);
  EXPECT_FALSE(fs::exists(out.path() / kItp2021DemandFile));
}

TEST(JobTraceImportTest, MissingColumnIsAnErrorAndWritesNothing) {
  TempDir src, out;
  WriteText(src.path() / "gpu_traces" / kJobs,
            "job_id,submit_s,start_s,end_s,duration_s,queue_s,gpus,nodes,status,vc,gpu_type,cluster\n"
            "j1,100,,,600,,1,,,,,c1\n");
  ImportReport report;
  Status s = ImportJobTrace(src.path(), out.path(), report, kItp2021Jobs);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(kJobs), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("gpus_per_node"), std::string::npos) << s.message();
  EXPECT_FALSE(fs::exists(out.path() / kItp2021DemandFile));
}

TEST(JobTraceImportTest, BadRowsAreRecordedWithTheirLineWhileTheRestImports) {
  TempDir src, out;
  WriteText(src.path() / "gpu_traces" / kJobs,
            std::string(kJobHeader) +
                "ok,100,,,600,,1,,,,,,c1\n"                               // 2 accepted
                "trunc,100,,,600\n"                                       // 3 truncated
                "nosubmit,,,,600,,1,,,,,,c1\n"                            // 4 no arrival
                "word,soon,,,600,,1,,,,,,c1\n"                            // 5 not a number
                "zero,100,,,600,,0,,,,,,c1\n"                             // 6 no GPU
                "nodur,100,,,,,2,,,,,,c1\n"                               // 7 no run time
                "negdur,100,,,-5,,1,,,,,,c1\n"                            // 8 negative run time
                "half,100,,,600,,1.5,,,,,,c1\n"                           // 9 not whole
                "pending,100,,,,,8,,,Pending,,,c1\n"                      // 10 skipped: never ran
                "cancel,100,,,0,,4,,,CANCELLED,,,c1\n"                    // 11 skipped: cancelled first
                "cancel-ran,100,150,400,,,4,1,4,CANCELLED,vcA,V100,c1\n"  // 12 accepted: ran 250 s
                "span,100,,,900,30,16,2,8,COMPLETED,,A100|H100,c2\n"      // 13 accepted: two nodes
                "mismatch,100,,,900,,12,2,8,Pass,,,c2\n"                  // 14 repaired: 12 != 2 x 8
                "toomanynodes,100,,,900,,2,4,,,,,c2\n"                    // 15 more nodes than GPUs
                "derived,100,,,900,,,2,4,,,,c2\n"                         // 16 repaired: gpus = 2 x 4
                "early,100,90,200,,,1,,,,,,c1\n"                          // 17 started before submit
                "backwards,100,150,140,,,1,,,,,,c1\n"                     // 18 ended before start
                "ok,200,,,600,,1,,,,,,c1\n"                               // 19 duplicate job_id
                "running,300,310,,500,,8,1,,RUNNING,,,c1\n"               // 20 accepted, censored
                "mystery,300,,,500,,1,,,Zombie,,,c1\n"                    // 21 accepted, warned
                "frac,50.4,50.6,,100.2,,1,,,,,,\n"                        // 22 accepted, rounded
                "vconly,60,,,100,,1,,,,vcB,,\n"                           // 23 accepted
                "one-gpu-node,70,,,100,,1,1,1,,,,\n"                      // 24 accepted: any
                "nodes0,70,,,100,,2,0,,,,,\n"                             // 25 no node
                "negsubmit,-1,,,100,,1,,,,,,\n"                           // 26 negative arrival
                ",70,,,100,,1,,,,,,\n"                                    // 27 no id
                "endonly,100,,700,,,1,,,,,,\n"                            // 28 end without start
                "nan-type,80,,,100,nan,2,nan,nan,nan,nan,nan,c3\n");      // 29 accepted, pandas nan
  ImportReport report;
  Status s = ImportJobTrace(src.path(), out.path(), report, kItp2021Jobs);
  ASSERT_TRUE(s.ok()) << s.ToString();
  const FileReport& f = report.files().at(kJobsRel);
  EXPECT_EQ(f.rows, 28);
  EXPECT_EQ(f.accepted, 11);
  EXPECT_EQ(IssueLines(f, RowOutcome::kRejected),
            (std::set<int>{3, 4, 5, 6, 7, 8, 9, 15, 17, 18, 19, 25, 26, 27, 28}));
  EXPECT_EQ(IssueLines(f, RowOutcome::kRepaired), (std::set<int>{14, 16}));
  EXPECT_EQ(IssueLines(f, RowOutcome::kSkipped), (std::set<int>{10, 11}));
  const std::vector<std::pair<int, std::string>> reasons = {
      {3, "truncated"},
      {4, "submit_s is empty"},
      {5, "submit_s: 'soon'"},
      {6, "gpus 0 is less than 1"},
      {7, "duration_s is empty"},
      {8, "duration_s -5 is negative"},
      {9, "gpus: '1.5' is not a whole number"},
      {10, "never ran (status=Pending)"},
      {11, "cancelled before it started (status=CANCELLED"},
      {14, "gpus 12 is not nodes 2 x gpus_per_node 8 = 16: kept gpus 12"},
      {15, "nodes 4 is more than gpus 2"},
      {16, "gpus empty: taken as nodes 2 x gpus_per_node 4 = 8"},
      {17, "start_s 90 is before submit_s 100"},
      {18, "end_s 140 is before start_s 150: negative run time"},
      {19, "job 'ok' already seen at microsoft_itp2021_jobs.csv:2"},
      {25, "nodes 0 is less than 1"},
      {26, "submit_s -1 is negative"},
      {27, "job_id is empty"},
      {28, "duration_s is empty and start_s, end_s do not give it"},
  };
  for (const auto& [line, text] : reasons) {
    EXPECT_NE(ReasonAt(f, line).find(text), std::string::npos) << line << ": " << ReasonAt(f, line);
  }
  // Given but not carried: gpus_per_node on the accepted rows 12, 13, 14, 16, 24; one unknown status.
  ASSERT_EQ(f.warnings.size(), 2u);
  EXPECT_NE(f.warnings[0].find("gpus_per_node given on 5 row(s)"), std::string::npos) << f.warnings[0];
  EXPECT_NE(f.warnings[1].find("status 'Zombie' on 1 row(s)"), std::string::npos) << f.warnings[1];

  auto rows = ReadDemand(out.path() / kItp2021DemandFile);
  ASSERT_TRUE(rows.has_value()) << rows.error().ToString();
  std::vector<std::string> order;
  for (const auto& r : *rows) order.push_back(r.source_id);
  EXPECT_EQ(order, (std::vector<std::string>{"frac", "vconly", "one-gpu-node", "nan-type", "cancel-ran",
                                             "derived", "mismatch", "ok", "span", "mystery", "running"}));

  // Cancelled after it started: it held 4 GPUs on one node for end - start.
  const DemandRow* cancel = Find(*rows, "cancel-ran");
  EXPECT_EQ(cancel->gpus, 4);
  EXPECT_EQ(cancel->interconnect, Interconnect::kNode);
  EXPECT_EQ(cancel->duration_s, 250);
  EXPECT_EQ(cancel->wait_s, 50);
  EXPECT_EQ(cancel->models, (std::vector<std::string>{"V100"}));
  EXPECT_EQ(cancel->tenant, "c1/vcA");  // a vc named inside its cluster
  EXPECT_EQ(cancel->phase, "CANCELLED");
  EXPECT_FALSE(cancel->censored);
  // Two nodes: the fabric; queue_s is the wait.
  const DemandRow* span = Find(*rows, "span");
  EXPECT_EQ(span->interconnect, Interconnect::kFabric);
  EXPECT_EQ(span->wait_s, 30);
  EXPECT_EQ(span->models, (std::vector<std::string>{"A100", "H100"}));
  EXPECT_EQ(span->tenant, "c2");
  EXPECT_EQ(Find(*rows, "mismatch")->gpus, 12);
  EXPECT_EQ(Find(*rows, "mismatch")->interconnect, Interconnect::kFabric);
  EXPECT_EQ(Find(*rows, "derived")->gpus, 8);
  // Still running when the trace was taken: the duration is a lower bound.
  const DemandRow* running = Find(*rows, "running");
  EXPECT_TRUE(running->censored);
  EXPECT_EQ(running->interconnect, Interconnect::kNode);
  EXPECT_EQ(running->wait_s, 10);
  EXPECT_EQ(running->duration_s, 500);
  EXPECT_EQ(Find(*rows, "mystery")->phase, "Zombie");
  EXPECT_FALSE(Find(*rows, "mystery")->censored);
  // Fractions of a second round to the nearest second: 50.4 -> 50, 100.2 -> 100, 0.2 -> 0.
  const DemandRow* frac = Find(*rows, "frac");
  EXPECT_EQ(frac->arrival_s, 50);
  EXPECT_EQ(frac->duration_s, 100);
  EXPECT_EQ(frac->wait_s, 0);
  EXPECT_EQ(frac->tenant, "");
  EXPECT_EQ(Find(*rows, "vconly")->tenant, "vcB");
  EXPECT_EQ(Find(*rows, "one-gpu-node")->interconnect, Interconnect::kAny);
  const DemandRow* nan = Find(*rows, "nan-type");
  EXPECT_EQ(nan->interconnect, Interconnect::kFabric);
  EXPECT_TRUE(nan->models.empty());
  EXPECT_FALSE(nan->wait_s.has_value());
  EXPECT_EQ(nan->phase, "");
  EXPECT_EQ(nan->tenant, "c3");
}

TEST(JobTraceImportTest, AFileWithoutTheClusterColumnImports) {
  TempDir src, out;
  WriteText(
      src.path() / "gpu_traces" / kJobs,
      "job_id,submit_s,start_s,end_s,duration_s,queue_s,gpus,nodes,gpus_per_node,status,vc,gpu_type,user\n"
      "j1,100,,,600,,2,1,,,vc7,,alice\n");
  ImportReport report;
  Status s = ImportJobTrace(src.path(), out.path(), report, kItp2021Jobs);
  ASSERT_TRUE(s.ok()) << s.ToString();
  const FileReport& f = report.files().at(kJobsRel);
  EXPECT_EQ(f.accepted, 1);
  ASSERT_EQ(f.warnings.size(), 1u);
  EXPECT_NE(f.warnings[0].find("'user'"), std::string::npos) << f.warnings[0];
  auto rows = ReadDemand(out.path() / kItp2021DemandFile);
  ASSERT_TRUE(rows.has_value()) << rows.error().ToString();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].tenant, "vc7");
  EXPECT_EQ((*rows)[0].interconnect, Interconnect::kNode);
}

TEST(JobTraceImportTest, SuffixedFilesAreReadAndMerged) {
  TempDir src, out;
  // Real rows: cluster04's first 16-GPU job, and a 1-GPU cluster07 job; then a later period.
  WriteText(src.path() / "gpu_traces" / kJobs,
            std::string(kJobHeader) +
                "c9c620ea-4336-c1a9-8abe-e26bd13076b8,5810,,,288476,,16,,,,,,cluster04\n"
                "a11b4fc9-8f06-7093-2b93-bcb89acf0e7e,1999,,,13423,,1,,,,,,cluster07\n");
  WriteText(src.path() / "gpu_traces" / "microsoft_itp2021_jobs_2022.csv",
            std::string(kJobHeader) +
                "later-1,900,,,700,,8,1,8,,,,cluster11\n"
                "a11b4fc9-8f06-7093-2b93-bcb89acf0e7e,7000,,,13423,,1,,,,,,cluster07\n");  // seen before
  WriteText(src.path() / "gpu_traces" / "microsoft_itp2021_jobs.txt", "not a source\n");
  WriteText(src.path() / "gpu_traces" / "microsoft_itp2021_jobsX.csv", "not a source\n");
  ImportReport report;
  Status s = ImportJobTrace(src.path(), out.path(), report, kItp2021Jobs);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(report.files().size(), 2u);
  const FileReport& later = report.files().at("gpu_traces/microsoft_itp2021_jobs_2022.csv");
  EXPECT_EQ(later.rows, 2);
  EXPECT_EQ(later.accepted, 1);
  EXPECT_EQ(IssueLines(later, RowOutcome::kRejected, "already seen at microsoft_itp2021_jobs.csv:3"),
            (std::set<int>{3}));
  auto rows = ReadDemand(out.path() / kItp2021DemandFile);
  ASSERT_TRUE(rows.has_value()) << rows.error().ToString();
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0].source, "microsoft_itp2021_jobs_2022.csv:2");
  EXPECT_EQ((*rows)[0].interconnect, Interconnect::kNode);
  EXPECT_EQ((*rows)[0].tenant, "cluster11");
  EXPECT_EQ((*rows)[1].source, "microsoft_itp2021_jobs.csv:3");
  EXPECT_EQ((*rows)[2].source, "microsoft_itp2021_jobs.csv:2");
  EXPECT_EQ((*rows)[2].interconnect, Interconnect::kFabric);
}

TEST(JobTraceImportTest, StructuralErrorInASecondFileStopsTheWholeImport) {
  TempDir src, out;
  WriteText(src.path() / "gpu_traces" / kJobs, std::string(kJobHeader) + "j1,100,,,600,,1,,,,,,c1\n");
  WriteText(src.path() / "gpu_traces" / "microsoft_itp2021_jobs_2022.csv",
            std::string(kJobHeader) + "j2,100,,,600,,1,,,,,,\"c1\n");
  ImportReport report;
  Status s = ImportJobTrace(src.path(), out.path(), report, kItp2021Jobs);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("microsoft_itp2021_jobs_2022.csv"), std::string::npos) << s.message();
  EXPECT_FALSE(fs::exists(out.path() / kItp2021DemandFile));
}

TEST(JobTraceImportTest, StatusSpellingsOfOtherTraces) {
  // Slurm, Philly and Kubernetes spell the same states differently; case and separators do not
  // matter. Queued or never launched: skipped; still running: censored; anything else ran.
  struct Case {
    const char* status;
    const char* outcome;  // "skipped", "censored", "ended"
  };
  const std::vector<Case> cases = {
      {"PENDING", "skipped"},  {"Waiting", "skipped"},  {"queued", "skipped"},  {"BOOT_FAIL", "skipped"},
      {"Running", "censored"}, {"RUNNING", "censored"}, {"COMPLETED", "ended"}, {"Pass", "ended"},
      {"Succeeded", "ended"},  {"Failed", "ended"},     {"NODE_FAIL", "ended"}, {"OUT_OF_MEMORY", "ended"},
      {"TIMEOUT", "ended"},    {"Killed", "ended"},     {"cancelled", "ended"}, {"Preempted", "ended"},
      {"", "ended"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.status);
    TempDir src, out;
    WriteText(src.path() / "gpu_traces" / kJobs,
              std::string(kJobHeader) + "j1,100,110,,600,,2,,," + c.status + ",,,c1\n");
    ImportReport report;
    ASSERT_TRUE(ImportJobTrace(src.path(), out.path(), report, kItp2021Jobs).ok());
    const FileReport& f = report.files().at(kJobsRel);
    EXPECT_TRUE(f.warnings.empty()) << f.warnings[0];
    auto rows = ReadDemand(out.path() / kItp2021DemandFile);
    ASSERT_TRUE(rows.has_value()) << rows.error().ToString();
    if (std::string_view(c.outcome) == "skipped") {
      EXPECT_EQ(f.accepted, 0);
      EXPECT_EQ(IssueLines(f, RowOutcome::kSkipped, "never ran"), (std::set<int>{2}));
      EXPECT_TRUE(rows->empty());
      continue;
    }
    ASSERT_EQ(rows->size(), 1u);
    EXPECT_EQ((*rows)[0].censored, std::string_view(c.outcome) == "censored");
    EXPECT_EQ((*rows)[0].phase, c.status);
    EXPECT_EQ((*rows)[0].wait_s, 10);
  }
}

// --- The canonical file ---------------------------------------------------------------------

TEST(DemandFileTest, EveryFieldSurvivesARoundTrip) {
  DemandRow full;
  full.arrival_s = 3600;
  full.gpus = 4;
  full.gpu_milli = 1000;
  full.models = {"A100 80GB", "H100"};
  full.min_vram_gb = 40;
  full.interconnect = Interconnect::kNode;
  full.duration_s = 7200;
  full.wait_s = 12;
  full.kind = DemandKind::kInterruptible;
  full.price = RentalPrice(2'490'000);  // 2.49 USD per GPU-hour
  full.tenant = "lab, \"west\"";        // needs quoting
  full.qos = "BE";
  full.censored = true;
  full.phase = "Running";
  full.cpu_milli = 32000;
  full.memory_mib = 131072;
  full.source = "trace.csv:9";
  full.source_id = "job-9";
  DemandRow bare;  // every optional field empty
  bare.arrival_s = 7200;
  bare.gpu_milli = 250;
  bare.source = "trace.csv:10";
  DemandRow gang;  // a multi-node training job
  gang.arrival_s = 7200;
  gang.gpus = 32;
  gang.interconnect = Interconnect::kFabric;
  gang.duration_s = 600;
  gang.tenant = "cluster04";
  gang.source = "jobs.csv:11";
  gang.source_id = "job-11";

  TempDir dir;
  fs::path file = dir.path() / "demand.csv";
  ASSERT_TRUE(WriteDemand(file, {full, bare, gang}).ok());
  auto back = ReadDemand(file);
  ASSERT_TRUE(back.has_value()) << back.error().ToString();
  ASSERT_EQ(back->size(), 3u);
  EXPECT_EQ((*back)[0], full);
  EXPECT_EQ((*back)[1], bare);
  EXPECT_EQ((*back)[2], gang);
  EXPECT_NE(ReadText(file).find(",2.490000,"), std::string::npos) << ReadText(file);
  EXPECT_NE(ReadText(file).find("7200,32,1000,,,fabric,600,"), std::string::npos) << ReadText(file);
}

struct CorruptCase {
  const char* name;
  std::string row;       // replaces the second data row (line 3)
  const char* expected;  // part of the error message
};

TEST(DemandFileTest, ACorruptedRowIsAnErrorWithItsLine) {
  const std::string header =
      "arrival_s,gpus,gpu_milli,models,min_vram_gb,interconnect,duration_s,wait_s,kind,price_usd_per_gpu_h,"
      "tenant,qos,censored,phase,cpu_milli,memory_mib,source,source_id\n";
  const std::string good1 = "10,1,500,,,any,60,0,on_demand,,,LS,0,Running,1000,1024,t.csv:2,p1\n";
  const std::string good3 = "30,1,1000,,,any,60,0,on_demand,,,LS,0,Running,1000,1024,t.csv:4,p3\n";
  const std::vector<CorruptCase> cases = {
      {"not_a_number", "20,x,1000,,,any,60,0,on_demand,,,LS,0,Running,1000,1024,t.csv:3,p2", "gpus: 'x'"},
      {"truncated", "20,1,1000,,,any,60", "truncated row"},
      {"bad_kind", "20,1,1000,,,any,60,0,spot,,,LS,0,Running,1000,1024,t.csv:3,p2", "kind 'spot'"},
      {"bad_interconnect", "20,1,1000,,,infiniband,60,0,on_demand,,,LS,0,Running,1000,1024,t.csv:3,p2",
       "interconnect 'infiniband'"},
      {"shared_multi_gpu", "20,2,500,,,node,60,0,on_demand,,,LS,0,Running,1000,1024,t.csv:3,p2",
       "gpu_milli 500"},
      {"negative_duration", "20,1,1000,,,any,-5,0,on_demand,,,LS,0,Running,1000,1024,t.csv:3,p2",
       "duration_s -5"},
      {"bad_censored", "20,1,1000,,,any,60,0,on_demand,,,LS,yes,Running,1000,1024,t.csv:3,p2",
       "censored 'yes'"},
      {"bad_price", "20,1,1000,,,any,60,0,on_demand,cheap,,LS,0,Running,1000,1024,t.csv:3,p2",
       "price_usd_per_gpu_h"},
      {"out_of_order", "5,1,1000,,,any,60,0,on_demand,,,LS,0,Running,1000,1024,t.csv:3,p2",
       "sorted by arrival"},
      {"no_arrival", ",1,1000,,,any,60,0,on_demand,,,LS,0,Running,1000,1024,t.csv:3,p2",
       "arrival_s is empty"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    TempDir dir;
    fs::path file = dir.path() / "demand.csv";
    WriteText(file, header + good1 + c.row + "\n" + good3);
    auto rows = ReadDemand(file);
    ASSERT_FALSE(rows.has_value());
    const std::string& m = rows.error().message();
    EXPECT_NE(m.find(file.string() + ":3:"), std::string::npos) << m;
    EXPECT_NE(m.find(c.expected), std::string::npos) << m;
  }
  // The same file with a good middle row reads.
  TempDir dir;
  WriteText(dir.path() / "demand.csv",
            header + good1 + "20,1,1000,,,any,60,0,on_demand,,,LS,0,Running,1000,1024,t.csv:3,p2\n" + good3);
  EXPECT_TRUE(ReadDemand(dir.path() / "demand.csv").has_value());
}

TEST(DemandFileTest, MissingColumnOrFileIsAnErrorNamingTheFile) {
  TempDir dir;
  fs::path file = dir.path() / "demand.csv";
  WriteText(file, "arrival_s,gpus\n1,1\n");
  auto rows = ReadDemand(file);
  ASSERT_FALSE(rows.has_value());
  EXPECT_NE(rows.error().message().find("demand.csv"), std::string::npos) << rows.error().message();
  EXPECT_NE(rows.error().message().find("gpu_milli"), std::string::npos) << rows.error().message();

  auto absent = ReadDemand(dir.path() / "absent.csv");
  ASSERT_FALSE(absent.has_value());
  EXPECT_NE(absent.error().message().find("absent.csv"), std::string::npos) << absent.error().message();
}

// --- The real trace, when the shared data folder is there -----------------------------------

TEST(AlibabaRealTraceTest, ImportsTheWholeTrace) {
  fs::path root = RIGSHIFT_SHARED_DATA;
  if (!fs::exists(root / kPodsRel)) GTEST_SKIP() << "no " << (root / kPodsRel);
  TempDir out;
  ImportReport report;
  Status s = ImportAlibabaTrace(root, out.path(), report);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::cout << report.Summary(3);
  const FileReport& f = report.files().at(kPodsRel);
  EXPECT_EQ(f.rows, 8152);
  EXPECT_EQ(IssueLines(f, RowOutcome::kSkipped, "CPU-only").size(), 1088u);
  EXPECT_EQ(IssueLines(f, RowOutcome::kSkipped, "never scheduled").size(), 861u);
  EXPECT_EQ(f.Count(RowOutcome::kRejected), 0);
  EXPECT_EQ(f.Count(RowOutcome::kRepaired), 0);
  EXPECT_EQ(f.accepted, 8152 - 1088 - 861);
  auto rows = ReadDemand(out.path() / kAlibaba2023DemandFile);
  ASSERT_TRUE(rows.has_value()) << rows.error().ToString();
  EXPECT_EQ(static_cast<int64_t>(rows->size()), f.accepted);
  int64_t censored = std::count_if(rows->begin(), rows->end(), [](const DemandRow& r) { return r.censored; });
  EXPECT_EQ(censored, 32);
}

TEST(ItpRealTraceTest, ImportsTheWholeTrace) {
  fs::path root = RIGSHIFT_SHARED_DATA;
  if (!fs::exists(root / kJobsRel)) GTEST_SKIP() << "no " << (root / kJobsRel);
  TempDir out;
  ImportReport report;
  Status s = ImportJobTrace(root, out.path(), report, kItp2021Jobs);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::cout << report.Summary(3);
  const FileReport& f = report.files().at(kJobsRel);
  EXPECT_EQ(f.rows, 69351);
  EXPECT_EQ(f.accepted, 69351);
  EXPECT_TRUE(f.issues.empty());
  EXPECT_TRUE(f.warnings.empty());
  auto rows = ReadDemand(out.path() / kItp2021DemandFile);
  ASSERT_TRUE(rows.has_value()) << rows.error().ToString();
  ASSERT_EQ(rows->size(), 69351u);
  std::map<int64_t, int> by_gpus;
  std::map<std::string, int> by_tenant;
  int64_t gpu_seconds = 0;
  int fabric = 0;
  for (const auto& r : *rows) {
    ++by_gpus[r.gpus];
    ++by_tenant[r.tenant];
    gpu_seconds += r.gpus * r.duration_s;
    fabric += r.interconnect == Interconnect::kFabric;
  }
  // The numbers of the shared data README (gpu_traces/microsoft_itp2021_jobs.csv).
  EXPECT_EQ(by_gpus, (std::map<int64_t, int>{
                         {1, 57682}, {2, 1483}, {4, 2371}, {8, 7009}, {16, 381}, {32, 354}, {64, 71}}));
  EXPECT_EQ(fabric, 11669);
  EXPECT_EQ(gpu_seconds, 5877791065);  // 1,632,719.7 GPU-hours
  EXPECT_EQ(by_tenant, (std::map<std::string, int>{{"cluster01", 1595},
                                                   {"cluster02", 5778},
                                                   {"cluster03", 3011},
                                                   {"cluster04", 15802},
                                                   {"cluster05", 3629},
                                                   {"cluster06", 2396},
                                                   {"cluster07", 12699},
                                                   {"cluster08", 13047},
                                                   {"cluster09", 11134},
                                                   {"cluster10", 260}}));
  EXPECT_EQ(rows->front().arrival_s, 1999);
  EXPECT_EQ(rows->back().arrival_s, 5175336);
}

}  // namespace
}  // namespace rigshift
