package sampling

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/notice"
	"github.com/clearsky/clearsky/services/fuel/internal/limits"
)

// RectifyDays is the time the rectification notice gives the site (a district setting, to
// confirm with the bureau: docs/fuel.md).
const RectifyDays = 15

// parameterNames are the parameters as the standards name them in Chinese.
var parameterNames = map[string]string{
	"aldehydes": "醛类", "alkalinity_nh3": "碱度（以NH3计）", "aluminium": "铝", "aromatics": "芳烃含量", "ash": "灰分", "benzene": "苯含量",
	"biuret": "缩二脲", "calcium": "钙", "cetane_number": "十六烷值", "cfpp": "冷滤点", "chromium": "铬", "copper": "铜", "density_20c": "密度（20℃）",
	"fame": "脂肪酸甲酯含量", "flash_point": "闪点", "insolubles": "不溶物", "iron": "铁", "magnesium": "镁", "manganese": "锰含量",
	"methanol": "甲醇含量", "nickel": "镍", "olefins": "烯烃含量", "oxygen": "氧含量", "phosphate": "磷酸盐", "polycyclic_aromatics": "多环芳烃含量",
	"potassium": "钾", "refractive_index_20c": "折光率（20℃）", "research_octane": "研究法辛烷值", "sodium": "钠", "solidifying_point": "凝点",
	"sulfur": "硫含量", "t50": "50%回收温度", "total_contamination": "总污染物含量", "total_sulfur": "全硫", "urea_content": "尿素含量", "zinc": "锌",
}

// parameterName is a parameter's Chinese name with its key: "苯含量（benzene）".
func parameterName(p string) string {
	if n, ok := parameterNames[p]; ok {
		return n + "（" + p + "）"
	}
	return p
}

var productNames = map[limits.Product]string{limits.Gasoline: "车用汽油", limits.Diesel: "车用柴油", limits.Urea: "车用尿素水溶液", limits.Coal: "民用散煤"}

// limitText is a limit as a notice writes it: "≤ 10 mg/kg", "≥ 92", "31.8–33.2 %", "不得人为添加".
func limitText(l *limits.Limit) string {
	if l == nil {
		return ""
	}
	f := func(p *float64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatFloat(*p, 'f', -1, 64)
	}
	switch l.Comparison {
	case limits.Range:
		return f(l.Min) + "–" + f(l.Max) + " " + l.Unit
	case limits.Max:
		return "≤ " + f(l.Limit) + " " + l.Unit
	case limits.Min:
		return "≥ " + f(l.Limit) + " " + l.Unit
	case limits.Forbidden:
		if l.Limit == nil {
			return "不得人为添加"
		}
		return "不得人为添加（≤ " + f(l.Limit) + " " + l.Unit + "）"
	}
	return ""
}

func addressOf(site Site) string {
	if site.Address == "" {
		return ""
	}
	return "（地址：" + site.Address + "）"
}

// Notice is the case's rectification notice to the failing site (责令改正通知书): the sample,
// what failed against which standard and clause, and what the site must do. The bureau's.
func (s *Service) Notice(ctx context.Context, p auth.Principal, id string) (notice.Notice, error) {
	c, err := s.GetCase(ctx, p, id)
	if err != nil {
		return notice.Notice{}, err
	}
	site, err := s.sites.GetSite(ctx, c.SiteID)
	if err != nil {
		return notice.Notice{}, err
	}
	product := productNames[c.Product]
	if c.Grade != "" {
		product += "（" + c.Grade + "）"
	}
	t := &notice.Table{Head: []string{"检验项目", "检验结果", "标准要求", "依据"}}
	basis := []string{"《中华人民共和国大气污染防治法》关于燃料和车用尿素质量的规定"}
	seen := map[string]bool{}
	for _, o := range c.Failures {
		std := ""
		if o.Limit != nil {
			std = strings.TrimSpace(o.Limit.Standard + " " + o.Limit.Clause)
			if o.Limit.Standard != "" && !seen[o.Limit.Standard] {
				seen[o.Limit.Standard] = true
				basis = append(basis, o.Limit.Standard)
			}
		}
		t.Rows = append(t.Rows, []string{parameterName(o.Parameter), strconv.FormatFloat(o.Value, 'f', -1, 64) + " " + o.Unit, limitText(o.Limit), std})
	}
	for _, fd := range c.Findings {
		t.Rows = append(t.Rows, []string{fd.Code, fd.Message, "", strings.TrimSpace(fd.Standard + " " + fd.Clause)})
		if fd.Standard != "" && !seen[fd.Standard] {
			seen[fd.Standard] = true
			basis = append(basis, fd.Standard)
		}
	}
	to := site.Name
	if site.Operator != "" {
		to = site.Operator + "（" + site.Name + "）"
	}
	due := c.OpenedAt.AddDate(0, 0, RectifyDays)
	req := []string{
		"立即停止销售、使用该批次不合格产品，封存剩余库存，不得转移。",
		fmt.Sprintf("于 %s 前查明不合格原因（进货渠道、储存及设备情况），完成整改，并将整改报告及进货凭证报送本局。", notice.Day(due)),
		"本局将对整改情况进行复查抽检；复查仍不合格或逾期未整改的，依法予以处罚。",
		"对本通知有异议的，可自收到之日起十五日内向本局申请复核。",
	}
	if c.Escalated {
		req = append([]string{fmt.Sprintf("该单位 %d 个月内抽检不合格 %d 次（样品编号 %s），本局将对其重点监管，并追溯上游供应单位。",
			s.policy.EscalateMonths, len(c.PriorFailures), strings.Join(c.PriorFailures, "、"))}, req...)
	}
	return notice.Notice{
		Title:  "责令改正通知书",
		Number: c.ID,
		To:     to,
		Lead: []string{fmt.Sprintf("%s 在你单位%s抽取的%s样品（样品编号 %s），经检验，下列项目不符合标准要求：",
			notice.Clock(c.SampledAt), addressOf(site), product, c.SampleID)},
		Table:        t,
		Basis:        basis,
		Requirements: req,
		Date:         c.OpenedAt,
	}, nil
}
