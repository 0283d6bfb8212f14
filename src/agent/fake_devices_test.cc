#include "agent/fake_devices.h"

#include <set>

#include <gtest/gtest.h>

#include "agent/discovery_json.h"

namespace rigshift::agent {
namespace {

TEST(FakeDevices, EightH100InTwoNvlinkIslandsOfFour) {
  auto d = ParseFakeDevices("8xH100 nvlink=2x4", "n1");
  ASSERT_TRUE(d) << d.error().message();
  ASSERT_EQ(d->gpus.size(), 8u);
  EXPECT_EQ(d->source, "fake");
  EXPECT_EQ(d->gpus[0].name, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(d->gpus[0].memory_mib, 81559);
  EXPECT_EQ(d->gpus[0].pcie_gen, 5);
  EXPECT_EQ(d->gpus[0].pcie_width, 16);
  EXPECT_EQ(d->gpus[0].power_limit_mw, 700000);
  ASSERT_TRUE(d->links);
  EXPECT_EQ(LinkName(d->links->at(0, 3)), "NV12");   // same island
  EXPECT_EQ(LinkName(d->links->at(4, 7)), "NV12");
  EXPECT_EQ(LinkName(d->links->at(3, 4)), "PHB");    // across islands, one NUMA node
  std::set<std::string> uuids;
  for (const GpuInfo& g : d->gpus) uuids.insert(g.uuid.value());
  EXPECT_EQ(uuids.size(), 8u);
}

TEST(FakeDevices, RiserRigOfRtx3090AtX1) {
  auto d = ParseFakeDevices("6xRTX 3090 pcie=x1");
  ASSERT_TRUE(d) << d.error().message();
  ASSERT_EQ(d->gpus.size(), 6u);
  EXPECT_EQ(d->gpus[5].index, 5);
  EXPECT_EQ(d->gpus[5].name, "NVIDIA GeForce RTX 3090");
  EXPECT_EQ(d->gpus[5].memory_mib, 24576);
  EXPECT_EQ(d->gpus[5].pcie_width, 1);
  EXPECT_EQ(d->gpus[5].pcie_max_width, 16);
}

TEST(FakeDevices, GroupsOptionsAndUnknownModelsWithMemory) {
  auto d = ParseFakeDevices("2xGeForce RTX-4090 pcie=gen3x8 power=300; 2xMyCard mem=12GiB numa=2 nvlinks=4", "n2");
  ASSERT_TRUE(d) << d.error().message();
  ASSERT_EQ(d->gpus.size(), 4u);
  EXPECT_EQ(d->gpus[0].name, "NVIDIA GeForce RTX 4090");
  EXPECT_EQ(d->gpus[0].pcie_gen, 3);
  EXPECT_EQ(d->gpus[0].pcie_width, 8);
  EXPECT_EQ(d->gpus[0].power_limit_mw, 300000);
  EXPECT_EQ(d->gpus[2].name, "MyCard");
  EXPECT_EQ(d->gpus[2].memory_mib, 12288);
  EXPECT_EQ(d->gpus[2].power_limit_mw, std::nullopt);
  EXPECT_EQ(LinkName(d->links->at(0, 1)), "PHB");
  EXPECT_EQ(LinkName(d->links->at(1, 2)), "SYS");  // another group
  EXPECT_EQ(LinkName(d->links->at(2, 3)), "SYS");  // numa=2 puts them on two nodes
}

TEST(FakeDevices, UuidsDependOnTheNode) {
  auto a = ParseFakeDevices("1xH100", "a");
  auto b = ParseFakeDevices("1xH100", "b");
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->gpus[0].uuid, b->gpus[0].uuid);
  EXPECT_EQ(a->gpus[0].uuid, ParseFakeDevices("1xH100", "a")->gpus[0].uuid);
  EXPECT_EQ(a->gpus[0].uuid->size(), 40u);  // GPU- + 36
}

struct BadSpec {
  const char* spec;
  const char* error;
};

TEST(FakeDevices, BadSpecsSayWhatIsWrong) {
  const BadSpec cases[] = {
      {"", "fake devices: group 1 '': empty group"},
      {"H100", "fake devices: group 1 'H100': expected COUNTxMODEL, e.g. 8xH100"},
      {"ax H100", "fake devices: group 1 'ax H100': count: 'a' is not a positive whole number"},
      {"0xH100", "fake devices: group 1 '0xH100': count: '0' is not a positive whole number"},
      {"8x", "fake devices: group 1 '8x': no model after the count"},
      {"8xH100 nvlink=3x3", "fake devices: group 1 '8xH100 nvlink=3x3': nvlink=3x3 covers 9 GPUs, not 8"},
      {"8xH100 nvlink=24", "fake devices: group 1 '8xH100 nvlink=24': nvlink=24: expected GROUPSxSIZE, e.g. 2x4"},
      {"6xRTX 3090 pcie=x3", "fake devices: group 1 '6xRTX 3090 pcie=x3': pcie=x3: width must be 1, 2, 4, 8 or 16"},
      {"2xH100; 1xFoo", "fake devices: group 2 '1xFoo': model 'Foo' is not in the table"},
      {"2xH100 color=red", "fake devices: group 1 '2xH100 color=red': unknown option 'color'"},
      {"2xH100 mem=80 extra", "fake devices: group 1 '2xH100 mem=80 extra': 'extra' after the options"},
  };
  for (const BadSpec& c : cases) {
    auto d = ParseFakeDevices(c.spec);
    ASSERT_FALSE(d) << c.spec;
    EXPECT_EQ(d.error().message().substr(0, std::string(c.error).size()), c.error) << c.spec;
  }
}

TEST(DeviceFile, SpecForm) {
  auto d = ParseDeviceFile(R"({"spec": "4xA100 nvlink=1x4"})", "dev.json");
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->gpus.size(), 4u);
  EXPECT_EQ(LinkName(d->links->at(0, 3)), "NV12");
}

TEST(DeviceFile, RoundTripsWhatParsePrints) {
  auto fake = ParseFakeDevices("4xH200 nvlink=2x2 nvlinks=18", "n");
  ASSERT_TRUE(fake);
  std::string text = DiscoveryToJson(*fake).dump();
  auto back = ParseDeviceFile(text, "dev.json", "n");
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->gpus, fake->gpus);
  EXPECT_EQ(back->links, fake->links);
}

TEST(DeviceFile, ErrorsNameTheField) {
  const BadSpec cases[] = {
      {"[1]", "dev.json: expected an object with \"spec\" or \"gpus\""},
      {"{", "dev.json: not valid JSON"},
      {R"({"gpus": []})", "dev.json: gpus: missing or empty"},
      {R"({"gpus": [{"name": "X"}]})", "dev.json: gpus[0].memory_mib: missing"},
      {R"({"gpus": [{"name": "X", "memory_mib": "lots"}]})", "dev.json: gpus[0].memory_mib: \"lots\" is not a number"},
      {R"({"gpus": [{"name": "X", "memory_mib": 1, "vram": 2}]})", "dev.json: gpus[0].vram: unknown key"},
      {R"({"gpus": [{"name": "X", "memory_mib": 1}], "links": [{"a": 0, "b": 1, "link": "NV1"}]})",
       "dev.json: links[0]: GPUs 0 and 1 are not two of the 1 GPUs"},
      {R"({"spec": "1xFoo"})", "dev.json: fake devices: group 1 '1xFoo'"},
  };
  for (const BadSpec& c : cases) {
    auto d = ParseDeviceFile(c.spec, "dev.json");
    ASSERT_FALSE(d) << c.spec;
    EXPECT_EQ(d.error().message().substr(0, std::string(c.error).size()), c.error) << c.spec;
  }
}

}  // namespace
}  // namespace rigshift::agent
