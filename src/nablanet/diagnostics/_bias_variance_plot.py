"""BiasVarianceReport's figure: the errors as bars in the notes' order, the gaps as arrows between them."""

from __future__ import annotations

from nablanet.plot._figures import figure_and_axes

_SET_COLOR = "C0"
_GAP_COLOR = "0.35"
_LARGEST_COLOR = "C3"


def draw_report(report, ax=None):
    """Bars for the optimal, train, train-dev, dev and test errors; an arrow and a label for each gap."""
    figure, ax = figure_and_axes(ax, 7.0, 4.2)
    names = [name for name in ("optimal", "train", "train-dev", "dev", "test") if report.error(name) is not None]
    position = {name: index for index, name in enumerate(names)}
    heights = [report.error(name) for name in names]
    bars = ax.bar(range(len(names)), heights, width=0.55, color=_SET_COLOR, alpha=0.75)
    if not report.optimal_given:
        # An assumed optimal error of 0 is no measurement: an outline at the axis, not a bar.
        bars[0].set(facecolor="none", edgecolor=_SET_COLOR, hatch="//", linestyle="--")
    for bar, value in zip(bars, heights):
        ax.annotate(f"{value:.3f}", (bar.get_x() + bar.get_width() / 2, value), xytext=(0, 2),
                    textcoords="offset points", ha="center", va="bottom", fontsize="small")
    largest = report.largest
    top = max(heights + [report.tolerance])
    gap_positions, gap_labels, gap_colors = [], [], []
    for gap, (start, end, size) in report.gaps.items():
        # The arrow stands between the two bars it compares (to the dev bar's left edge without train-dev).
        x = (position[start] + position[end]) / 2 if position[end] - position[start] == 1 else position[end] - 0.4
        color = _LARGEST_COLOR if gap == largest else _GAP_COLOR
        # Dotted steps from each bar's top to the arrow show which two errors it separates.
        ax.hlines(report.error(start), position[start] + 0.275, x, colors=color, linestyles=":", linewidth=0.8)
        ax.hlines(report.error(end), x, position[end] - 0.275, colors=color, linestyles=":", linewidth=0.8)
        ax.annotate("", xy=(x, report.error(end)), xytext=(x, report.error(start)),
                    arrowprops=dict(arrowstyle="->", color=color, linewidth=2 if gap == largest else 1.2))
        gap_positions.append(x)
        gap_labels.append(f"{gap}\n{size:+.3f}")
        gap_colors.append(color)
    labels = [name if name != "optimal" or report.optimal_given else "optimal\n(assumed)" for name in names]
    ax.set_xticks(range(len(names)), labels)
    # The gaps are named under the axis, between the sets they separate, where no bar can hide them.
    ax.set_xticks(gap_positions, gap_labels, minor=True)
    ax.tick_params(axis="x", which="minor", length=0, pad=30, labelsize="x-small")
    for label, color in zip(ax.get_xticklabels(minor=True), gap_colors):
        label.set_color(color)
        if color == _LARGEST_COLOR:
            label.set_fontweight("bold")
    ax.set_ylim(0, 1.18 * top + 0.02)
    ax.set_ylabel("error")
    if largest is None:
        ax.set_title("no gap above the tolerance")
    else:
        ax.set_title(f"largest gap: {largest} ({report.gaps[largest][2]:.3f})")
    ax.grid(axis="y", alpha=0.3)
    return figure
