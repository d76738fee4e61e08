package sensing

import (
	"context"
	"fmt"
	"strconv"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/notice"
	"github.com/clearsky/clearsky/services/remotesensing/internal/limits"
)

// NoticeDays is the time the notice gives the owner to repair the vehicle and have it retested
// (a district setting, to confirm with the bureau: docs/remotesensing.md).
const NoticeDays = 15

var pollutantNames = map[limits.Parameter]string{
	limits.CO: "一氧化碳（CO）", limits.HC: "碳氢化合物（HC）", limits.NO: "一氧化氮（NO）",
	limits.Opacity: "不透光烟度", limits.Ringelmann: "林格曼黑度",
}

var colourNames = map[string]string{"blue": "蓝牌", "yellow": "黄牌", "green": "绿牌", "yellow_green": "黄绿牌", "white": "白牌", "black": "黑牌"}

// standardOf names the standard a pollutant's limit comes from: petrol's CO and HC from
// GB 18285-2018, the rest (opacity, Ringelmann, NO of the shipped diesel table) from GB 3847-2018
// with HJ 845-2017's remote-sensing method (docs/limits.md).
func standardOf(p limits.Parameter) string {
	if p == limits.CO || p == limits.HC {
		return "GB 18285-2018《汽油车污染物排放限值及测量方法（双怠速法及简易工况法）》"
	}
	return "GB 3847-2018《柴油车污染物排放限值及测量方法（自由加速法及加载减速法）》、HJ 845-2017《在用柴油车排气污染物测量方法及技术要求（遥感检测法）》"
}

// Notice is the case's notice to the vehicle's owner (机动车排放超标告知书): the readings that
// found it exceeding, where and when, the limit, and what the owner must do. For those who may
// read the case (the owning fleet reads its own).
func (s *Service) Notice(ctx context.Context, p auth.Principal, id string) (notice.Notice, error) {
	c, err := s.GetCase(ctx, p, id)
	if err != nil {
		return notice.Notice{}, err
	}
	stations, err := s.stationStore.ListStations(ctx, "")
	if err != nil {
		return notice.Notice{}, err
	}
	place := map[string]string{}
	for _, st := range stations {
		place[st.ID] = st.Site
		if st.Site == "" {
			place[st.ID] = st.Name
		}
	}
	pollutant := pollutantNames[c.Pollutant]
	if pollutant == "" {
		pollutant = string(c.Pollutant)
	}
	t := &notice.Table{Head: []string{"时间", "地点", "污染物", "测量值", "限值"}}
	for _, tr := range c.Triggers {
		t.Rows = append(t.Rows, []string{notice.Clock(tr.MeasuredAt), place[tr.StationID], pollutant,
			strconv.FormatFloat(tr.Value, 'f', -1, 64) + " " + tr.Unit, strconv.FormatFloat(tr.Limit, 'f', -1, 64) + " " + tr.Unit})
	}
	colour := colourNames[string(c.PlateColour)]
	due := c.OpenedAt.AddDate(0, 0, NoticeDays)
	return notice.Notice{
		Title:  "机动车排放超标告知书",
		Number: c.ID,
		To:     fmt.Sprintf("机动车所有人（号牌 %s，%s）", c.Plate, colour),
		Lead: []string{fmt.Sprintf("经机动车排放遥感监测，你（单位）的机动车（号牌 %s，%s）在下列时间、地点行驶时，%s超过排放标准限值，属于排放超标车辆。", c.Plate, colour, pollutant),
			"遥感监测设备经检定或校准并在有效期内，监测时的气象及车辆工况符合测量要求。"},
		Table: t,
		Basis: []string{"《中华人民共和国大气污染防治法》关于在用机动车排放检验与维修的规定", standardOf(c.Pollutant),
			"本地区打赢蓝天保卫战行动计划（机动车排放检验与维护）"},
		Requirements: []string{
			fmt.Sprintf("请于 %s 前到具备资质的机动车排放维修治理站进行维修，并到排放检验机构复检合格。", notice.Day(due)),
			"维修治理站应出具维修记录；复检结果由检验机构上传，本局据此结案。",
			"逾期未维修复检或复检仍不合格的，依法予以处罚，并不予通过定期排放检验。",
			"对本告知书有异议的，可自收到之日起十五日内向本局申请复核。",
		},
		Date: c.OpenedAt,
	}, nil
}
