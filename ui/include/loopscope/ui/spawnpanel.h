#pragma once

//! \file spawnpanel.h The spawn panel: pick a task template, set its parameters, spawn.

#include <loopscope/scenario.h>

#include <QWidget>

#include <optional>
#include <vector>

QT_BEGIN_NAMESPACE
class QComboBox;
class QFormLayout;
class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;
QT_END_NAMESPACE

namespace loopscope::ui {

/*!
 * A form for one ScenarioSpawn: the template (scenarioTemplates()), each of its parameters
 * as an editor bounded by its ParamSpec (range, unit, choices), the count (1 … 10,000), the
 * start delay and interval, and the name prefix. Editors cannot hold out-of-range numbers;
 * what a range cannot express (the total task count, an empty name) is checked with
 * validateScenario() and explained under the form, with the Spawn button disabled.
 */
class SpawnPanel : public QWidget
{
    Q_OBJECT

public:
    explicit SpawnPanel(QWidget *parent = nullptr);
    ~SpawnPanel() override;

    //! The spawn the form describes now, or nullopt (see errorText()) when it is invalid.
    std::optional<loopscope::ScenarioSpawn> currentSpawn() const;
    //! Why the form cannot spawn; empty when it can.
    QString errorText() const;

    //! Selects the template \a id and resets its parameters to their defaults.
    void setTemplate(loopscope::ScenarioTemplate id);
    loopscope::ScenarioTemplate currentTemplate() const;

public Q_SLOTS:
    //! Emits spawnRequested() when the form is valid.
    void spawn();

Q_SIGNALS:
    void spawnRequested(const loopscope::ScenarioSpawn &spawn);

private:
    //! The form as a spawn, valid or not.
    loopscope::ScenarioSpawn formSpawn() const;
    void rebuildParameters();
    void revalidate();

    QComboBox *m_template = nullptr;
    QLabel *m_summary = nullptr;
    QFormLayout *m_paramsLayout = nullptr;
    QWidget *m_params = nullptr;
    std::vector<QWidget *> m_editors; //!< one per ParamSpec of the current template
    QSpinBox *m_count = nullptr;
    QSpinBox *m_startDelay = nullptr;
    QSpinBox *m_interval = nullptr;
    QLineEdit *m_name = nullptr;
    QLabel *m_error = nullptr;
    QPushButton *m_spawn = nullptr;
};

} // namespace loopscope::ui
