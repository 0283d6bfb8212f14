// The contract book: the suspension rule day by day, statements, refunds and what is in force.
#include "controller/contract_book.h"

#include <gtest/gtest.h>

namespace rigshift {
namespace {

Money Usd(std::string_view usd) { return Money(ParseScaled(usd, 6).value()); }

TEST(StepSuspension, CountsOnlyConsecutiveDaysAndResumesOnAGoodDay) {
  SuspensionState s;
  // Two bad days, a good one (the count restarts), then three bad: suspended after the third.
  for (Money mined : {Usd("1"), Usd("1"), Usd("3"), Usd("1"), Usd("1")}) StepSuspension(s, Usd("2"), mined, 3);
  EXPECT_EQ(s.streak, 2);
  EXPECT_FALSE(s.suspended);
  StepSuspension(s, Usd("2"), Usd("1.999999"), 3);
  EXPECT_EQ(s.streak, 3);
  EXPECT_TRUE(s.suspended);
  // Fee equal to mined is not "exceeds": it resumes.
  StepSuspension(s, Usd("2"), Usd("2"), 3);
  EXPECT_EQ(s.streak, 0);
  EXPECT_FALSE(s.suspended);
}

TEST(StepSuspension, ZeroDaysNeverSuspends) {
  SuspensionState s;
  for (int i = 0; i < 100; ++i) StepSuspension(s, Usd("2"), Usd("0"), 0);
  EXPECT_FALSE(s.suspended);
  EXPECT_EQ(s.streak, 100);
}

// 1 TH/s at a difficulty where it mines 1e-5 BTC a day (hashes per block = 1e12 x 86400 / 1e-5
// x reward 1): at 10,000 USD that is 0.10 USD a day, no pool fee.
CoinQuote Btc(std::string_view usd) {
  CoinQuote q;
  q.coin = "BTC";
  q.algorithm = "SHA-256";
  q.price = CoinPrice(ParseScaled(usd, 9).value());
  q.hashes_per_block = HashRate(static_cast<__int128>(1'000'000'000'000) * 86400 * 100'000);
  q.block_reward = CoinAmount(1'000'000'000);
  return q;
}

ContractTerms Terms() {
  ContractTerms t;
  t.id = 1;
  t.customer = "alice";
  t.algorithm = "SHA-256";
  t.hashrate = HashRate(static_cast<__int128>(10) * 1'000'000'000'000);  // 10 TH/s
  t.start = Date::FromYmd(2018, 6, 1);
  t.days = 10;
  t.price = Usd("100");
  t.fee_per_th_day = Usd("0.08");
  t.suspend_after_days = 2;
  return t;
}

TEST(ContractBook, StatementsChargeWhatWasDeliveredAndRefundTheShortfall) {
  ContractBook book;
  ASSERT_TRUE(book.Add(Terms()).ok());
  const __int128 full = static_cast<__int128>(10) * 1'000'000'000'000 * 86400;
  auto day = book.CloseDay(Date::FromYmd(2018, 6, 1), {Btc("10000")}, {{1, full / 2}}, 0);
  ASSERT_TRUE(day.has_value()) << day.error().ToString();
  ASSERT_EQ(day->size(), 1u);
  const ContractStatement& s = (*day)[0];
  EXPECT_EQ(s.state, "active");
  EXPECT_EQ(s.delivered.hps(), static_cast<__int128>(5) * 1'000'000'000'000);
  EXPECT_EQ(s.nominal_mined_usd, Usd("1"));   // 10 TH/s x 0.10
  EXPECT_EQ(s.mined_usd, Usd("0.5"));         // half delivered
  EXPECT_EQ(s.coins_mined, CoinAmount(50'000));  // 5e-5 BTC in nano-coins
  EXPECT_EQ(s.fee, Usd("0.4"));               // 0.08 x 5 TH/s
  EXPECT_EQ(s.nominal_fee, Usd("0.8"));
  EXPECT_EQ(s.refund, Usd("5"));              // 100 / 10 days x half
  EXPECT_EQ(s.streak, 0);                     // 0.8 fee < 1.0 mined
}

TEST(ContractBook, SuspendsOnTheDayTheTermsSayAndResumes) {
  ContractBook book;
  ASSERT_TRUE(book.Add(Terms()).ok());
  // Fee 0.80 a day. At 5,000 USD the 10 TH/s mine 0.50: two such days suspend it.
  std::vector<std::pair<std::string, std::string>> want;
  Date d = Date::FromYmd(2018, 6, 1);
  std::vector<std::string> prices = {"5000", "5000", "5000", "9000", "5000"};
  std::vector<std::string> states;
  std::vector<bool> suspends, resumes;
  for (const std::string& p : prices) {
    EXPECT_EQ(book.InForce(d).size(), book.Suspended(1) ? 0u : 1u);
    auto day = book.CloseDay(d, {Btc(p)}, {}, 0);
    ASSERT_TRUE(day.has_value());
    states.push_back((*day)[0].state);
    suspends.push_back((*day)[0].suspends);
    resumes.push_back((*day)[0].resumes);
    d = d + 1;
  }
  // Day 2 completes the streak: suspended on day 3; day 4 pays (0.90 >= 0.80): running on day 5.
  EXPECT_EQ(states, (std::vector<std::string>{"active", "active", "suspended", "suspended", "active"}));
  EXPECT_EQ(suspends, (std::vector<bool>{false, true, false, false, false}));
  EXPECT_EQ(resumes, (std::vector<bool>{false, false, false, true, false}));
}

// A shell that stops after any day and restores the book from the statements it stored goes on
// with the same statements as one that never stopped, and refuses the days it closed.
TEST(ContractBook, RestoredFromItsLastStatementsItGoesOnAsIfNeverStopped) {
  const std::vector<std::string> prices = {"5000", "5000", "5000", "9000", "5000", "5000", "5000", "9000"};
  auto run = [&](int stop_after) {
    ContractBook book;
    EXPECT_TRUE(book.Add(Terms()).ok());
    std::vector<ContractStatement> out;
    Date d = Date::FromYmd(2018, 6, 1);
    for (size_t i = 0; i < prices.size(); ++i, d = d + 1) {
      if (static_cast<int>(i) == stop_after) {
        ContractBook again;
        EXPECT_TRUE(again.Restore(Terms(), StateAfter(out.back())).ok());
        again.RestoreLastClosed(d - 1);
        EXPECT_FALSE(again.CloseDay(d - 1, {Btc(prices[i - 1])}, {}, 0).has_value()) << "closed before the stop";
        EXPECT_EQ(again.InForce(d).size(), book.InForce(d).size());
        book = std::move(again);
      }
      auto day = book.CloseDay(d, {Btc(prices[i])}, {{1, static_cast<__int128>(5) * 1'000'000'000'000 * 86400}}, 0);
      EXPECT_TRUE(day.has_value());
      if (day) out.push_back(day->front());
    }
    return out;
  };
  const std::vector<ContractStatement> straight = run(-1);
  ASSERT_EQ(straight.size(), prices.size());
  for (int stop = 1; stop < static_cast<int>(prices.size()); ++stop) {
    SCOPED_TRACE("stopped before day " + std::to_string(stop));
    std::vector<ContractStatement> restored = run(stop);
    ASSERT_EQ(restored.size(), straight.size());
    for (size_t i = 0; i < straight.size(); ++i) {
      EXPECT_EQ(restored[i].state, straight[i].state) << i;
      EXPECT_EQ(restored[i].streak, straight[i].streak) << i;
      EXPECT_EQ(restored[i].suspends, straight[i].suspends) << i;
      EXPECT_EQ(restored[i].resumes, straight[i].resumes) << i;
      EXPECT_EQ(restored[i].fee, straight[i].fee) << i;
      EXPECT_EQ(restored[i].refund, straight[i].refund) << i;
    }
  }
}

TEST(ContractBook, TermEndAndCustomerEndAndBadInput) {
  ContractBook book;
  ASSERT_TRUE(book.Add(Terms()).ok());
  EXPECT_TRUE(book.InForce(Date::FromYmd(2018, 5, 31)).empty());
  EXPECT_EQ(book.InForce(Date::FromYmd(2018, 6, 10)).size(), 1u);
  EXPECT_TRUE(book.InForce(Date::FromYmd(2018, 6, 11)).empty());
  ASSERT_TRUE(book.End(1, Date::FromYmd(2018, 6, 5)).ok());
  EXPECT_TRUE(book.InForce(Date::FromYmd(2018, 6, 5)).empty());
  EXPECT_FALSE(book.End(9, Date::FromYmd(2018, 6, 5)).ok());
  ContractTerms bad = Terms();
  bad.id = 2;
  bad.days = 0;
  Status s = book.Add(bad);
  EXPECT_NE(s.message().find("days"), std::string::npos) << s.ToString();
  EXPECT_FALSE(book.Add(Terms()).ok()) << "the same id twice";
  ASSERT_TRUE(book.CloseDay(Date::FromYmd(2018, 6, 2), {}, {}, 0).has_value());
  EXPECT_FALSE(book.CloseDay(Date::FromYmd(2018, 6, 2), {}, {}, 0).has_value()) << "a day closed twice";
}

TEST(ContractBook, ValuePerThDaySpreadsThePriceOverTheTerm) {
  // 0.08 fee + 100 USD / (10 TH/s x 10 days) = 1.08 USD per TH/s-day.
  EXPECT_EQ(ValuePerThDay(Terms()), Usd("1.08"));
}

}  // namespace
}  // namespace rigshift
